"""Deletes objects that no database row owns: what a writer killed before its commit left behind.

Every key the platform writes names the row that owns it (the layout and its parser are
`keys.py`'s): a dataset image, the dataset_files row whose object_key it is; a checkpoint's file,
the checkpoint row whose prefix it is under, or while the job is unfinished the job (it may be
uploading one); a model's file, the model (promotion copies into a fresh prefix); a generated
image, the generation that lists it, or while it is pending or running the generation.
Keys of any other shape are kept: what cannot be decided is not deleted.

Writers store objects first and commit their rows after (an upload within seconds to minutes of
storing its first image), so an object younger than the grace may be one whose row is about to be
committed: it is kept. The grace is counted from before any row is read, so an older object's row,
if it ever comes, was committed before the sweep began.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Checkpoint, DatasetFile, Generation, Job, Model
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.status import TERMINAL
from sanacloud.platform.serving.states import GENERATION_ENDED
from sanacloud.platform.storage import keys
from sanacloud.platform.storage.base import ObjectInfo, ObjectStore

BATCH = 500  # keys decided with one query per kind


@dataclass
class Removed:
    objects: int = 0
    bytes: int = 0


def sweep_orphans(store: ObjectStore, *, grace_s: float) -> dict[str, Removed]:
    """Delete the objects under tenant prefixes that no row owns and that are older than `grace_s`;
    returns what was removed, per tenant."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    old = (info for info in store.list(keys.TENANTS) if info.modified is not None and info.modified < cutoff)
    removed: dict[str, Removed] = defaultdict(Removed)
    for batch in _batches(old, BATCH):
        with session_scope() as session:
            orphans = _orphans(session, [info.key for info in batch])
        store.delete(list(orphans))
        for info in batch:
            if info.key in orphans:
                tenant = removed[orphans[info.key].tenant_id]
                tenant.objects += 1
                tenant.bytes += info.size
    return dict(removed)


def _batches(items: Iterable[ObjectInfo], size: int) -> Iterator[list[ObjectInfo]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _orphans(session: Session, object_keys: list[str]) -> dict[str, keys.Owner]:
    """The keys no row owns, with the owner they name; a key of a layout we do not know is kept."""
    by_kind: dict[keys.OwnerKind, dict[str, keys.Owner]] = defaultdict(dict)
    for key in object_keys:
        if (owner := keys.owner(key)) is not None:
            by_kind[owner.kind][key] = owner
    orphans: dict[str, keys.Owner] = {}
    for kind, owners in by_kind.items():
        owned = _OWNED[kind](session, {key: owner.id for key, owner in owners.items()})
        orphans |= {key: owner for key, owner in owners.items() if key not in owned}
    return orphans


def _dataset_files(session: Session, owners: dict[str, str]) -> set[str]:
    # The dataset id narrows the search to indexed rows; the key itself must match exactly.
    return set(session.scalars(select(DatasetFile.object_key).where(
        DatasetFile.dataset_id.in_(set(owners.values())), DatasetFile.object_key.in_(owners))))


def _checkpoints(session: Session, owners: dict[str, str]) -> set[str]:
    jobs = set(owners.values())
    unfinished = set(session.scalars(select(Job.id).where(Job.id.in_(jobs), Job.status.not_in(TERMINAL))))
    prefixes: dict[str, list[str]] = defaultdict(list)
    for job_id, prefix in session.execute(select(Checkpoint.job_id, Checkpoint.object_prefix)
                                          .where(Checkpoint.job_id.in_(jobs))):
        prefixes[job_id].append(prefix)
    return {key for key, job in owners.items()
            if job in unfinished or any(key.startswith(prefix) for prefix in prefixes[job])}


def _models(session: Session, owners: dict[str, str]) -> set[str]:
    found = set(session.scalars(select(Model.id).where(Model.id.in_(set(owners.values())))))
    return {key for key, model in owners.items() if model in found}


def _generations(session: Session, owners: dict[str, str]) -> set[str]:
    generating, listed = set(), set()
    for gen_id, status, image_keys in session.execute(select(Generation.id, Generation.status, Generation.image_keys)
                                                      .where(Generation.id.in_(set(owners.values())))):
        if status not in GENERATION_ENDED:
            generating.add(gen_id)
        listed.update(image_keys)
    return {key for key, gen in owners.items() if gen in generating or key in listed}


_OWNED: dict[keys.OwnerKind, Callable[[Session, dict[str, str]], set[str]]] = {
    "dataset": _dataset_files, "job": _checkpoints, "model": _models, "generation": _generations,
}

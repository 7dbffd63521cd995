"""The captions a captioning job writes, and what a training job's worker reads of them.

Each image has at most one caption per source (a captioner's name, or "user" for the tenant's
own once scored); a later captioning job by the same source replaces it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import DatasetCaption, DatasetFile

USER = "user"  # sanacloud.model.captions.USER: the source of the tenant's own caption
JOB_TYPE = "captions"  # a captioning job's type (training jobs are lora or full)


def record(session: Session, *, job_id: str, dataset_id: str, tenant_id: str, scorer: str | None,
           results: list[dict[str, Any]]) -> None:
    """Store the captioning child's `captions` events: {"file": name, "captions": [{"source", "text",
    "score"}]}. Files deleted from the dataset meanwhile are skipped."""
    names = [result["file"] for result in results]
    files = dict(session.execute(select(DatasetFile.name, DatasetFile.id).where(
        DatasetFile.dataset_id == dataset_id, DatasetFile.name.in_(names))).all())
    existing = {(row.file_id, row.source): row for row in session.scalars(
        select(DatasetCaption).where(DatasetCaption.file_id.in_(list(files.values()))))}
    for result in results:
        file_id = files.get(result["file"])
        if file_id is None:
            continue
        for caption in result["captions"]:
            row = existing.get((file_id, caption["source"]))
            if row is None:
                row = DatasetCaption(file_id=file_id, dataset_id=dataset_id, tenant_id=tenant_id,
                                     source=caption["source"])
                session.add(row)
                existing[(file_id, row.source)] = row
            if caption.get("score") is None and row.text == caption["text"] and row.score is not None:
                continue  # an unscored run keeps the score the same text has
            row.text, row.score, row.job_id = caption["text"], caption.get("score"), job_id
            row.scorer = scorer if caption.get("score") is not None else None


def by_file(session: Session, file_ids: list[str] | None = None, *,
            dataset_id: str | None = None) -> dict[str, list[DatasetCaption]]:
    """Each file's captions (of these files, or of a whole dataset), user first, then by source."""
    found: dict[str, list[DatasetCaption]] = defaultdict(list)
    which = DatasetCaption.dataset_id == dataset_id if dataset_id is not None else DatasetCaption.file_id.in_(
        file_ids or [])
    rows = session.scalars(select(DatasetCaption).where(which)
                           .order_by(DatasetCaption.file_id, DatasetCaption.source != USER, DatasetCaption.source))
    for row in rows:
        found[row.file_id].append(row)
    return found


def best_text(captions: list[DatasetCaption]) -> str:
    """The best-scoring caption's text ("" when there is none)."""
    scored = [c for c in captions if c.text]
    if not scored:
        return ""
    return max(scored, key=lambda c: -1.0 if c.score is None else c.score).text


def done_by(session: Session, *, job_id: str, sources: list[str], scored: bool) -> list[str]:
    """Names of the files a captioning job has captioned with every one of `sources` (and scored,
    with `scored`): a resumed attempt skips them."""
    counts: dict[str, set[str]] = defaultdict(set)
    query = select(DatasetFile.name, DatasetCaption.source).join(DatasetFile, DatasetFile.id == DatasetCaption.file_id)\
        .where(DatasetCaption.job_id == job_id)
    if scored:
        query = query.where(DatasetCaption.score.is_not(None))
    for name, source in session.execute(query):
        counts[name].add(source)
    return sorted(name for name, seen in counts.items() if set(sources) <= seen)

"""What a job keeps in object storage: its newest checkpoints and its best one; deleting a job
deletes everything it stored."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import Checkpoint, Job, Model
from sanacloud.platform.storage import get_object_store, keys


def prune_checkpoints(session: Session, *, keep_latest: int) -> int:
    """Delete checkpoints that are neither among a job's `keep_latest` newest, its lowest-loss one,
    nor promoted to a model. Objects go once the rows are gone. Returns how many were deleted."""
    crowded = session.scalars(select(Checkpoint.job_id).group_by(Checkpoint.job_id)
                              .having(func.count() > keep_latest + 1)).all()
    promoted = set(session.scalars(select(Model.source_checkpoint_id).where(Model.source_checkpoint_id.isnot(None))))
    deleted = 0
    for job_id in crowded:
        rows = list(session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step)))
        keep = {row.id for row in rows[-keep_latest:]} | promoted
        scored = [row for row in rows if isinstance(row.metrics.get("loss"), int | float)]
        if scored:
            keep.add(min(scored, key=lambda row: (row.metrics["loss"], -row.step)).id)
        for row in rows:
            if row.id not in keep:
                session.delete(row)
                _delete_objects_after_commit(session, row.object_prefix)
                deleted += 1
    return deleted


def delete_job(session: Session, job: Job) -> None:
    """The row (with its events and checkpoints) now; every object under the job's prefix after commit."""
    session.delete(job)
    _delete_objects_after_commit(session, keys.job_prefix(job.tenant_id, job.id))


def _delete_objects_after_commit(session: Session, prefix: str) -> None:
    on_commit(session, lambda: get_object_store().delete_prefix(prefix))

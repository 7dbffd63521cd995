"""Getting an admitted job's task to a worker, through a broker that may be down.

Admission commits first and sends after it (a task for a job whose admission rolled back would be
worse than a late one). A send the broker refuses is recorded as the job's `dispatch_failed` event
and leaves `dispatched_at` unset; the scheduler's tick (every SCHEDULER_TICK_S) sends such jobs
again. A job that was sent but never claimed is sent again only after DISPATCH_RETRY_S: its message
may simply be waiting for a free worker. Claiming is idempotent, so a duplicate is harmless.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import partial

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sanacloud.platform import queues
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import GpuPool, Job, JobEvent
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.status import JobStatus

log = logging.getLogger(__name__)
SEND_GRACE = timedelta(seconds=10)  # a send that just committed may still be on its way
_CREDENTIALS = re.compile(r"://[^@/\s]*@")


def dispatch_after_commit(session: Session, job: Job, pool_name: str) -> None:
    on_commit(session, partial(send, job.id, job.attempt, pool_name))


def send(job_id: str, attempt: int, pool_name: str) -> bool:
    """Hand the attempt's task to the broker; record the outcome on the job. True when sent."""
    try:
        queues.send_training(job_id, attempt, pool_name)
    except Exception as error:  # whatever the transport raises, the job must learn of it
        reason = _CREDENTIALS.sub("://***@", f"{type(error).__name__}: {error}")[:300]
        log.warning("could not send job %s attempt %d to the broker: %s", job_id, attempt, reason)
        _record_failure(job_id, attempt, reason)
        return False
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.attempt == attempt, Job.status == JobStatus.ADMITTED)
                        .values(dispatched_at=utcnow()))
    return True


def _record_failure(job_id: str, attempt: int, reason: str) -> None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.attempt != attempt or job.status != JobStatus.ADMITTED:
            return
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="dispatch_failed",
                             payload={"attempt": attempt, "error": reason,
                                      "retry": "the scheduler sends it again at its next tick"}))


def redispatch(session: Session, *, unclaimed_after_s: float) -> list[str]:
    """Send again the admitted jobs whose send failed, and those no worker claimed in time (a message
    lost by the broker, or a pool without workers)."""
    now = utcnow()
    never_sent = Job.dispatched_at.is_(None) & (Job.admitted_at < now - SEND_GRACE)
    unclaimed = Job.dispatched_at < now - timedelta(seconds=unclaimed_after_s)
    rows = session.execute(select(Job.id, Job.attempt, GpuPool.name).join(GpuPool, GpuPool.id == Job.pool_id)
                           .where(Job.status == JobStatus.ADMITTED, or_(never_sent, unclaimed))).all()
    for job_id, attempt, pool_name in rows:
        on_commit(session, partial(send, job_id, attempt, pool_name))
    return [row[0] for row in rows]

"""The job state machine: the one place where a job's status changes, each change an event.

The moves are the table in `status.py`; a transition not listed there is a bug and raises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Job, JobEvent
from sanacloud.platform.jobs.status import TERMINAL, JobStatus, can_transition
from sanacloud.platform.transitions import IllegalTransition
from sanacloud.platform.webhooks.events import EventType, emit


def transition(session: Session, job: Job, target: JobStatus, *, reason: str = "",
               details: dict[str, Any] | None = None) -> JobEvent:
    """Move `job` to `target` and record a `status` event in the same transaction (and a `job.status`
    webhook event for the tenant's webhooks that take it)."""
    current = job.status
    if not can_transition(current, target):
        raise IllegalTransition("job", job.id, current, target)
    now = utcnow()
    job.status = target
    job.updated_at = now
    if target is JobStatus.RUNNING and job.started_at is None:
        job.started_at = now
    if target in TERMINAL:
        job.finished_at = now
    payload: dict[str, Any] = {"from": current, "to": str(target)}
    if reason:
        payload["reason"] = reason
    if details:
        payload.update(details)
    event = JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="status", payload=payload, created_at=now)
    session.add(event)
    emit(session, tenant_id=job.tenant_id, type=EventType.JOB_STATUS,
         data={"job_id": job.id, "job_name": job.name, **payload})
    return event

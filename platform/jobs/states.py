"""The job state machine: the one place where a job's status changes, each change an event.

validating → queued → admitted → running → succeeded | failed | cancelled,
with preempted → queued and paused. A transition not listed here is a bug and raises.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Job, JobEvent
from sanacloud.platform.transitions import IllegalTransition, allowed


class JobStatus(StrEnum):
    VALIDATING = "validating"
    QUEUED = "queued"
    ADMITTED = "admitted"
    RUNNING = "running"
    PAUSED = "paused"
    PREEMPTED = "preempted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = JobStatus
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    S.VALIDATING: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.ADMITTED, S.PAUSED, S.FAILED, S.CANCELLED}),
    S.ADMITTED: frozenset({S.RUNNING, S.QUEUED, S.PREEMPTED, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PREEMPTED, S.PAUSED, S.QUEUED}),
    S.PREEMPTED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.PAUSED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_transition(current: str, target: JobStatus) -> bool:
    return allowed(ALLOWED, current, target)


def transition(session: Session, job: Job, target: JobStatus, *, reason: str = "",
               details: dict[str, Any] | None = None) -> JobEvent:
    """Move `job` to `target` and record a `status` event in the same transaction."""
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
    return event

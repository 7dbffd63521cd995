"""A job's statuses and the moves between them: validating → queued → admitted → running →
succeeded | failed | cancelled, with preempted → queued, paused → queued, and succeeded → queued
when a job is extended to more steps. Plain data, so the job's table
(platform/db/models) names its statuses by this enum; `states.transition` makes the moves.
"""

from __future__ import annotations

from enum import StrEnum

from sanacloud.platform.transitions import allowed


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
    S.ADMITTED: frozenset({S.RUNNING, S.QUEUED, S.PREEMPTED, S.PAUSED, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PREEMPTED, S.PAUSED, S.QUEUED}),
    S.PREEMPTED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.PAUSED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.SUCCEEDED: frozenset({S.QUEUED}),  # extended to more steps
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_transition(current: str, target: JobStatus) -> bool:
    return allowed(ALLOWED, current, target)

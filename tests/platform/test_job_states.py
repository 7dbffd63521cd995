"""The job state machine (platform/jobs/status.py, states.py) as a table: every status has its row, a job
runs only once admitted and succeeds only after it ran, every unfinished job can be cancelled or
failed, a finished one never changes (but for a succeeded job extended to more steps: queued again);
and `transition` applies exactly that table, each change a status event, every other change refused
with the job left as it was."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Job
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import ALLOWED, TERMINAL, JobStatus, can_transition
from sanacloud.platform.transitions import IllegalTransition

S = JobStatus
PAIRS = list(itertools.product(S, S))


def entered_from(target: JobStatus) -> set[JobStatus]:
    return {status for status in S if target in ALLOWED[status]}


def test_every_status_has_a_row_and_only_finished_jobs_have_no_way_on() -> None:
    assert set(ALLOWED) == set(S)
    assert {status for status, targets in ALLOWED.items() if not targets} == TERMINAL - {S.SUCCEEDED} == {
        S.FAILED, S.CANCELLED}
    assert ALLOWED[S.SUCCEEDED] == {S.QUEUED}  # extended to more steps


def test_every_unfinished_job_can_be_cancelled_and_failed() -> None:
    for status in set(S) - TERMINAL:
        assert {S.CANCELLED, S.FAILED} <= ALLOWED[status], status


def test_a_job_runs_only_once_admitted_and_succeeds_only_after_it_ran() -> None:
    assert entered_from(S.RUNNING) == {S.ADMITTED}
    assert entered_from(S.SUCCEEDED) == {S.RUNNING}
    assert entered_from(S.ADMITTED) == {S.QUEUED}
    assert entered_from(S.VALIDATING) == set()


def test_preempted_and_paused_jobs_go_back_to_the_queue() -> None:
    for status in (S.PREEMPTED, S.PAUSED):
        assert ALLOWED[status] - TERMINAL == {S.QUEUED}, status
    assert entered_from(S.PREEMPTED) == {S.ADMITTED, S.RUNNING}


def test_every_status_is_reachable_from_validating() -> None:
    reached, frontier = {S.VALIDATING}, {S.VALIDATING}
    while frontier:
        frontier = {target for status in frontier for target in ALLOWED[status]} - reached
        reached |= frontier
    assert reached == set(S)


def job_in(status: JobStatus) -> Job:
    return Job(id="job_1", tenant_id="ten_1", status=str(status))


@pytest.mark.parametrize(("current", "target"), [pair for pair in PAIRS if can_transition(*pair)])
def test_an_allowed_change_is_applied_and_recorded(current: JobStatus, target: JobStatus) -> None:
    job = job_in(current)
    with Session() as session:
        event = transition(session, job, target, reason="because", details={"attempt": 2})
        assert list(session.new) == [event]
    assert job.status == target and isinstance(job.updated_at, datetime)
    assert (event.job_id, event.tenant_id, event.type) == ("job_1", "ten_1", "status")
    assert event.payload == {"from": current, "to": target, "reason": "because", "attempt": 2}
    assert (job.started_at is not None) == (target is S.RUNNING)
    assert (job.finished_at is not None) == (target in TERMINAL)


@pytest.mark.parametrize(("current", "target"), [pair for pair in PAIRS if not can_transition(*pair)])
def test_any_other_change_is_refused_and_changes_nothing(current: JobStatus, target: JobStatus) -> None:
    job = job_in(current)
    with Session() as session:
        with pytest.raises(IllegalTransition, match=f"job job_1 cannot go from {current} to {target}"):
            transition(session, job, target)
        assert not session.new
    assert job.status == current and job.updated_at is None


def test_a_job_keeps_the_time_it_first_started() -> None:
    job = job_in(S.PREEMPTED)  # it ran once, from this time, until a preemption
    job.started_at = first_start = datetime(2026, 1, 1, tzinfo=UTC)
    with Session() as session:
        for status in (S.QUEUED, S.ADMITTED, S.RUNNING, S.SUCCEEDED):
            transition(session, job, status)
    assert job.started_at == first_start and job.finished_at is not None and job.finished_at > first_start


def test_a_job_takes_only_a_status_of_the_state_machine() -> None:
    with pytest.raises(ValueError, match="'queue' is not a valid JobStatus"):
        job_in(S.QUEUED).status = "queue"  # a typo would otherwise be stored and strand the job
    assert job_in(S.QUEUED).status is S.QUEUED  # what is compared as the enum, from a plain string too


@pytest.mark.parametrize("status", list(S))
def test_only_a_queued_job_keeps_its_wait_reason(status: JobStatus) -> None:
    job = job_in(S.QUEUED)
    job.wait_reason, job.wait_kind = "the pool is full", "capacity"
    job.status = status
    assert (job.wait_reason is not None) == (status is S.QUEUED) == (job.wait_kind is not None)

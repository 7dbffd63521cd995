"""The state machines of jobs, endpoints and generations: every move their tables allow is made,
every other one is refused. The moves are spelled out here, so that a change to a table is a
decision this file records."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Endpoint, Generation, Job
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import TERMINAL, JobStatus
from sanacloud.platform.serving.states import (
    GENERATION_ENDED,
    EndpointStatus,
    GenerationStatus,
    transition_endpoint,
    transition_generation,
)
from sanacloud.platform.transitions import IllegalTransition


def moves(spec: str) -> set[tuple[str, str]]:
    """'a -> b c' lines: the moves from a to b and from a to c."""
    pairs = set()
    for line in spec.strip().splitlines():
        current, targets = line.split("->")
        pairs |= {(current.strip(), target) for target in targets.split()}
    return pairs


JOB_MOVES = moves("""
    validating -> queued failed cancelled
    queued -> admitted paused failed cancelled
    admitted -> running queued preempted paused failed cancelled
    running -> succeeded failed cancelled preempted paused queued
    preempted -> queued cancelled failed
    paused -> queued cancelled failed
    succeeded -> queued
""")
ENDPOINT_MOVES = moves("""
    cold -> loading ready failed
    loading -> ready failed scaling_down cold
    ready -> failed scaling_down cold
    scaling_down -> cold loading ready failed
    failed -> loading ready
""")
GENERATION_MOVES = moves("""
    pending -> running failed
    running -> succeeded failed
""")


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobStatus, JobStatus)))
def test_a_job_makes_only_the_listed_moves_each_recorded(current: JobStatus, target: JobStatus) -> None:
    job = Job(id="job_x", tenant_id="ten_x", status=current)
    with Session() as session:  # unbound: the event is only added, never written
        if (current, target) in JOB_MOVES:
            event = transition(session, job, target, reason="why")
            assert event in session.new and event.payload == {"from": current, "to": target, "reason": "why"}
            assert job.status == target and (job.finished_at is not None) == (target in TERMINAL)
            assert (job.started_at is not None) == (target is JobStatus.RUNNING)
        else:
            with pytest.raises(IllegalTransition, match=f"job job_x cannot go from {current} to {target}"):
                transition(session, job, target)
            assert job.status == current and not session.new


@pytest.mark.parametrize(("current", "target"), list(itertools.product(EndpointStatus, EndpointStatus)))
def test_an_endpoint_makes_only_the_listed_moves(current: EndpointStatus, target: EndpointStatus) -> None:
    endpoint = Endpoint(id="ep_x", status=current)
    if (current, target) in ENDPOINT_MOVES:
        transition_endpoint(endpoint, target)
        assert endpoint.status == target and endpoint.updated_at is not None
    else:
        with pytest.raises(IllegalTransition, match=f"endpoint ep_x cannot go from {current} to {target}"):
            transition_endpoint(endpoint, target)
        assert endpoint.status == current and endpoint.updated_at is None


@pytest.mark.parametrize(("current", "target"), list(itertools.product(GenerationStatus, GenerationStatus)))
def test_a_generation_makes_only_the_listed_moves(current: GenerationStatus, target: GenerationStatus) -> None:
    generation = Generation(id="gen_x", status=current)
    if (current, target) in GENERATION_MOVES:
        transition_generation(generation, target)
        assert generation.status == target
        assert (generation.started_at is not None) == (target is GenerationStatus.RUNNING)
        assert (generation.finished_at is not None) == (target in GENERATION_ENDED)
    else:
        with pytest.raises(IllegalTransition, match=f"generation gen_x cannot go from {current} to {target}"):
            transition_generation(generation, target)
        assert generation.status == current and generation.finished_at is None

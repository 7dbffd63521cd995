"""What `sanacloud jobs watch` says of a run's waits: the scheduler's reason while queued, the
cluster's while its pod waits for a GPU node, and nothing once it moves on."""

from __future__ import annotations

from datetime import UTC, datetime

from sanacloud.client.commands.watch import Run
from sanacloud.client.models import Job, JobEvent


def event(kind: str, **payload: object) -> JobEvent:
    return JobEvent.model_construct(id=1, type=kind, payload=payload, created_at=datetime.now(UTC))


def test_a_pod_waiting_for_a_node_is_shown_until_the_job_runs() -> None:
    run = Run(Job.model_construct(status="admitted", wait_reason=None, step=0, hyperparameters={"steps": 10}))
    said = "waiting for a GPU node in pool h100: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    assert run.apply(event("pod_waiting", attempt=1, message=said)) == f"waiting: {said}"
    assert run.metrics() == f"waiting: {said}"
    run.apply(event("status", **{"from": "admitted", "to": "running"}))
    assert run.metrics() == "running"

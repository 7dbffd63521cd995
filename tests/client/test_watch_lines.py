"""What `sanacloud jobs watch` says of a run's waits: the scheduler's reason while queued, the
cluster's while its pod waits for a GPU node, and nothing once it moves on; and of a captioning
job's progress."""

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


def test_a_captioning_job_shows_images_done_of_all_and_each_failed_image() -> None:
    run = Run(Job.model_construct(status="running", wait_reason=None, step=0, hyperparameters={"images": 40}))
    assert run.apply(event("progress", done=10, total=40)) is None, "the live line shows it"
    assert (run.step, run.total) == (10, 40)
    said = run.apply(event("caption_failed", file="b.png", source="blip", message="ValueError: bad"))
    assert said == "caption failed: b.png (blip): ValueError: bad"

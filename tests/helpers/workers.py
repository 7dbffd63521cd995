"""The training task run in the test process, as a worker runs it, against the same two backends as
the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.backends import reset_caches
from tests.helpers.deadlines import scaled

QUICK = {"steps": 6, "checkpoint_interval": 3, "batch_size": 2, "resolution": 64,
         "validation_prompts": ["a red square"]}


def run_task(job_id: str, attempt: int = 1) -> str | None:
    from sanacloud.workers.training.task import run

    return run(job_id, attempt)  # type: ignore[no-any-return]


@pytest.fixture
def worker_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quick heartbeats, so that cancel and preemption show within seconds; a preempted trainer has a
    generous grace to write its checkpoint on a busy machine (a cancel does not wait for it)."""
    request.getfixturevalue("configured")
    monkeypatch.setenv("SANACLOUD_HEARTBEAT_S", "0.3")
    monkeypatch.setenv("SANACLOUD_STOP_GRACE_S", str(scaled(60)))
    reset_caches()
    yield
    reset_caches()

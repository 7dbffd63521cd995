"""With the Kubernetes executor, the maintenance worker is the executor: each tick it starts
consuming the `train.<pool>` queue of every pool the admins have defined (pools appear at run
time), on itself only."""

from __future__ import annotations

from typing import Any

import pytest

from sanacloud.platform import accounts
from sanacloud.platform.db.session import session_scope
from sanacloud.workers import maintenance

pytestmark = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)


@pytest.mark.usefixtures("configured")
def test_the_executor_consumes_every_pools_train_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, Any]] = []
    monkeypatch.setattr(maintenance.app.control, "add_consumer",
                        lambda queue, destination=None, reply=False: asked.append((queue, destination)))
    with session_scope() as session:
        for name in ("h100", "a100"):
            accounts.upsert_pool(session, name=name, gpu_type=name, capacity_gpus=8)
    maintenance._consume_every_train_queue("celery@executor-0")
    assert sorted(asked) == [("train.a100", ["celery@executor-0"]), ("train.h100", ["celery@executor-0"])]

"""At least once, for real: a Celery worker process (with its beat, as `sanacloud up` runs them) is
killed while a delivery's request is open; a new worker sends it again, with the same id, once its
lease has expired. The receiver sees exactly the events' delivery ids, none lost, none made up."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sanacloud.platform.db.models import DeliveryStatus
from tests.helpers.backends import Backend, TenantCtx
from tests.helpers.deadlines import wait_until
from tests.helpers.processes import running, tail
from tests.helpers.webhooks import Receiver, Reply, delivery, emitted, registered, running_receiver, use_settings

pytestmark = pytest.mark.slow

WORKER_SETTINGS = {"webhook_allow_private_addresses": "true", "webhook_lease_s": "2", "webhook_timeout_s": "60",
                   "webhook_poll_s": "0.5", "scheduler_tick_s": "3600"}


def worker_argv(name: str) -> list[str]:
    """The maintenance worker `sanacloud up` runs, with beat inside it (-B) for the periodic pick-up."""
    return [sys.executable, "-m", "celery", "-A", "sanacloud.workers.celery_app", "worker", "-B", "--queues",
            "maintenance", "--concurrency", "1", "--hostname", f"{name}@%h", "--loglevel", "INFO"]


@pytest.fixture
def receiver(configured: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    use_settings(monkeypatch, **WORKER_SETTINGS)
    with running_receiver() as running:
        yield running


@pytest.mark.timeout(600)
def test_a_delivery_whose_worker_is_killed_mid_request_is_sent_again_with_its_id(
        receiver: Receiver, tenant: TenantCtx, tmp_path: Path) -> None:
    tenant_id = tenant.id
    registered(tenant_id, f"{receiver.url}/hook")
    held = threading.Event()
    receiver.answer(Reply(200, hold=held))  # the first request stays open until the worker is gone
    first, second = emitted(tenant_id, 2)
    log = tmp_path / "workers.log"

    with running(worker_argv("first"), {}, log) as worker:
        wait_until(lambda: first in receiver.ids() or second in receiver.ids(), what="the first worker to send",
                   timeout_s=180, describe=lambda: tail(log))
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-request
        worker.wait()
    held_id = receiver.received[0].delivery_id
    lost = delivery(held_id)
    assert (lost.status, lost.attempts) == (DeliveryStatus.PENDING, 1) and lost.locked_until is not None
    held.set()  # the receiver answers a sender that is gone

    with running(worker_argv("second"), {}, log):
        wait_until(lambda: all(delivery(each).status == DeliveryStatus.DELIVERED for each in (first, second)),
                   what="the second worker to send the lost delivery", timeout_s=180, describe=lambda: tail(log))
    assert set(receiver.ids()) == {first, second}
    assert receiver.ids().count(held_id) == 2 and delivery(held_id).attempts == 2
    assert len({r.body for r in receiver.received if r.delivery_id == held_id}) == 1

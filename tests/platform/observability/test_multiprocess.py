"""Multiprocess mode: a process that imported prometheus_client before its folder was chosen
(`sanacloud up`) still writes there; a process's end is recorded; Celery's signals carry request ids."""

from __future__ import annotations

import contextvars
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import signals
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from sanacloud.platform.observability.celery_hooks import REQUEST_ID_TASK_HEADER, carry_request_ids, observe_worker
from sanacloud.platform.observability.logs import REQUEST_ID
from sanacloud.platform.settings import Settings
from tests.helpers.deadlines import scaled

LATE = """
import sys
from pathlib import Path
from prometheus_client import Gauge
from sanacloud.platform.observability import metrics  # prometheus_client imported, no folder yet
metrics.share_through(Path(sys.argv[1]))
metrics.HTTP_REQUESTS.labels("GET", "/healthz", "200").inc(5)
Gauge("sanacloud_test_live", "a live gauge", ["x"], multiprocess_mode="livesum").labels("a").set(1)
print(__import__("os").getpid())
"""


def test_a_folder_chosen_after_import_gets_the_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.run([sys.executable, "-c", LATE, str(tmp_path)], capture_output=True, text=True,
                          timeout=scaled(120))
    assert done.returncode == 0, done.stderr
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("sanacloud_http_requests_total",
                                     {"method": "GET", "route": "/healthz", "status": "200"}) == 5
    assert registry.get_sample_value("sanacloud_test_live", {"x": "a"}) == 1
    # A worker's pool child reports its end: its live gauges stop counting.
    pid = int(done.stdout)
    observe_worker(Settings(data_dir=tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    signals.worker_process_shutdown.send(sender=None, pid=pid, exitcode=0)
    assert registry.get_sample_value("sanacloud_test_live", {"x": "a"}) is None
    assert registry.get_sample_value("sanacloud_http_requests_total",  # counters outlive their process
                                     {"method": "GET", "route": "/healthz", "status": "200"}) == 5


class Task:
    """What the signals see of a task: its request, which holds the message's headers."""

    def __init__(self, **headers: object) -> None:
        self.request = SimpleNamespace(**headers)


def test_a_task_carries_the_request_id_to_the_worker_s_log_lines() -> None:
    carry_request_ids()

    def publish() -> dict[str, object]:
        headers: dict[str, object] = {}
        REQUEST_ID.set("req_sent")
        signals.before_task_publish.send(sender="sanacloud.train.run", headers=headers, body=None)
        return headers

    headers = contextvars.copy_context().run(publish)
    assert headers == {REQUEST_ID_TASK_HEADER: "req_sent"}

    def run_task() -> list[str | None]:
        task = Task(**headers)
        seen = []
        signals.task_prerun.send(sender=task, task_id="t1", task=task, args=(), kwargs={})
        seen.append(REQUEST_ID.get())
        signals.task_postrun.send(sender=task, task_id="t1", task=task, args=(), kwargs={}, retval=None, state="OK")
        seen.append(REQUEST_ID.get())
        untagged = Task()
        signals.task_prerun.send(sender=untagged, task_id="t2", task=untagged, args=(), kwargs={})
        seen.append(REQUEST_ID.get())
        return seen

    assert contextvars.copy_context().run(run_task) == ["req_sent", None, None]

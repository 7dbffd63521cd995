"""`sanacloud up` with JSON logs: /metrics sums the API's metrics and the workers' (the scheduler's
tick runs in the maintenance worker) through the one folder `up` makes afresh; the API's log lines
are JSON objects, a request's with its id."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.deadlines import wait_until
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, tail, wait_for_banner
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.timeout(300)
def test_up_sums_every_process_s_metrics_and_logs_json(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    stale = data_dir / "metrics" / "counter_1.db"  # a previous run's: `up` starts afresh
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    env = {**EMBEDDED_ENV, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "SANACLOUD_LOG_FORMAT": "json", "SANACLOUD_SCHEDULER_TICK_S": "1"}
    log = tmp_path / "up.log"
    with running([SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(port)], env, log):
        wait_for_banner(log)
        assert not stale.exists()
        assert httpx.get(f"{url}/healthz", headers={"X-Request-ID": "e2e-probe-1"}).status_code == 200
        admissions = ("sanacloud_admission_pass_duration_seconds_count", frozenset({("pool", "local")}))
        # The maintenance worker's ticks, through the shared folder: the API admits nothing by itself here.
        seen = wait_until(lambda: (lambda now: now if now.get(admissions, 0) >= 1 else None)(samples(url)),
                          what="the worker's admission passes in /metrics", timeout_s=120,
                          describe=lambda: tail(data_dir / "logs" / "maintenance-worker.log"))
        assert seen[("sanacloud_http_requests_total", frozenset(
            {("method", "GET"), ("route", "/healthz"), ("status", "200")}))] >= 1
        assert seen[("sanacloud_pool_capacity_gpus", frozenset({("pool", "local")}))] >= 1
        pids = {path.stem.rsplit("_", 1)[1] for path in (data_dir / "metrics").glob("*.db")}
        assert len(pids) >= 2, pids  # the API and at least the maintenance worker's pool process
        lines = [json.loads(line) for line in (data_dir / "logs" / "api.log").read_text().splitlines() if line]
        assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
        probe = [line for line in lines if line.get("request_id") == "e2e-probe-1"]
        assert probe and "/healthz" in probe[0]["message"], lines[-5:]  # uvicorn's access log line
        worker_lines = (data_dir / "logs" / "maintenance-worker.log").read_text().splitlines()
        assert any(json.loads(line).get("message", "").endswith(" ready.") for line in worker_lines
                   if line.startswith("{")), worker_lines[-5:]

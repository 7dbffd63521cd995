"""`sanacloud up` for real: API, workers and beat processes on SQLite, a local folder and the
filesystem broker; the whole flow over HTTP, including a LoRA fine-tune of sana-tiny on the CPU
with checkpoints and sample images; a restart on the same data dir keeps everything."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.flow import train_lora_to_success, upload_submit_list_cancel
from tests.e2e.processes import SANACLOUD, running, stop, wait_for_text, wait_healthy

pytestmark = pytest.mark.slow

# Settings from the developer's environment must not leak into the embedded platform.
CLEAN_ENV = {"SANACLOUD_DATABASE_URL": "", "SANACLOUD_STORAGE_BACKEND": "local", "SANACLOUD_BROKER_URL": "",
             "SANACLOUD_SECRET_KEY": "", "SANACLOUD_MODE": "embedded"}


def test_up_runs_the_whole_flow_and_restarts_on_the_same_data(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(port)]
    log = tmp_path / "up.log"

    with running(argv, CLEAN_ENV, log) as up:
        wait_healthy(url, up, log)
        wait_for_text(log, "ready.")  # the Celery worker
        wait_for_text(log, "beat: Starting")
        credentials = json.loads((data_dir / "credentials.json").read_text())
        assert credentials["api_key"] in log.read_text()
        ids = upload_submit_list_cancel(url, credentials["api_key"])
        trained = train_lora_to_success(url, credentials["api_key"], ids["dataset"])

        second = tmp_path / "second.log"
        with running([SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(free_port())], CLEAN_ENV,
                     second) as duplicate:
            assert duplicate.wait(timeout=60) == 1
        assert "already running" in second.read_text()
        assert stop(up), "worker or beat outlived `sanacloud up`"

    with running(argv, CLEAN_ENV, log) as again:
        wait_healthy(url, again, log)
        headers = {"Authorization": f"Bearer {credentials['api_key']}"}
        dataset = httpx.get(f"{url}/v1/datasets/{ids['dataset']}", headers=headers)
        assert dataset.status_code == 200 and dataset.json()["file_count"] == 4
        assert httpx.get(f"{url}/v1/jobs/{ids['job']}", headers=headers).json()["status"] == "cancelled"
        checkpoints = httpx.get(f"{url}/v1/jobs/{trained['id']}/checkpoints", headers=headers).json()
        assert httpx.get(checkpoints[-1]["sample_urls"][0]).content.startswith(b"\x89PNG")
    assert sorted(p.name for p in (data_dir / "objects" / "tenants").iterdir())

"""`sanacloud up` for real: API, workers and beat processes on SQLite, a local folder and the
filesystem broker; the whole flow over HTTP, including a LoRA fine-tune of sana-tiny on the CPU
with checkpoints and sample images; a restart on the same data dir keeps everything.

What a user sees: the URL and key last on the screen, once they work, and the admin CLI acting
on the running platform without being told where it is."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.helpers.deadlines import scaled
from tests.helpers.flow import train_lora_to_success, upload_submit_list_cancel
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, stop, wait_for_banner, wait_for_text, wait_healthy
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow



@pytest.mark.timeout(600)
def test_up_shows_its_key_once_it_works_runs_the_whole_flow_and_restarts_on_the_same_data(tmp_path: Path) -> None:
    home, state, data_dir, port = tmp_path / "home", tmp_path / "state", tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(port)]
    env = {**EMBEDDED_ENV, "HOME": str(home), "XDG_STATE_HOME": str(state)}
    log = tmp_path / "up.log"

    with running(argv, env, log) as up:
        shown = wait_for_banner(log)
        key = re.findall(r"API key: (sk_\S+)", shown)[0]
        # What a user does on seeing the key: use it at once.
        assert httpx.get(f"{url}/v1/datasets", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        lines = shown.splitlines()
        assert lines[0] == f"starting sanacloud in {data_dir} ..." and lines[1].startswith(f"sanacloud is up at {url}")
        assert "  workers: ready." in lines and len(lines) == 1 + 8, shown  # that line and the banner, no noise
        for worker in ("maintenance-worker", "gpu-worker"):
            assert " ready." in (data_dir / "logs" / f"{worker}.log").read_text()
        wait_for_text(data_dir / "logs" / "beat.log", "beat: Starting")

        # The admin CLI acts on the running platform without being told where it is.
        cli_env = {**{k: v for k, v in os.environ.items() if k != "SANACLOUD_DATA_DIR"}, **env}
        created = subprocess.run([SANACLOUD, "admin", "create-tenant", "acme"], env=cli_env, capture_output=True,
                                 text=True, timeout=scaled(120))
        assert created.returncode == 0 and created.stdout.startswith("ten_"), created.stderr
        assert created.stderr == f"using data dir {data_dir} (of `sanacloud up` at {url}, pid {up.pid})\n"
        admin = subprocess.run([SANACLOUD, "admin", "create-key", "--platform-admin"], env=cli_env,
                               capture_output=True, text=True, timeout=scaled(120))
        tenants = httpx.get(f"{url}/v1/admin/tenants", headers={"Authorization": f"Bearer {admin.stdout.strip()}"})
        assert "acme" in [tenant["name"] for tenant in tenants.json()["items"]], tenants.text
        assert not (home / ".sanacloud").exists()
        assert log.read_text() == shown, "more on the screen after the banner"

        ids = upload_submit_list_cancel(url, key)
        trained = train_lora_to_success(url, key, ids["dataset"])

        second = tmp_path / "second.log"
        with running([SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(free_port())], env,
                     second) as duplicate:
            assert duplicate.wait(timeout=scaled(60)) == 1
        assert "already running" in second.read_text()
        assert stop(up), "worker or beat outlived `sanacloud up`"
    assert not list((state / "sanacloud" / "running").glob("*.json")), "`up` left its record behind"

    with running(argv, env, log) as again:
        wait_healthy(url, again, log)
        headers = {"Authorization": f"Bearer {key}"}
        dataset = httpx.get(f"{url}/v1/datasets/{ids['dataset']}", headers=headers)
        assert dataset.status_code == 200 and dataset.json()["file_count"] == 4
        assert httpx.get(f"{url}/v1/jobs/{ids['job']}", headers=headers).json()["status"] == "cancelled"
        checkpoints = httpx.get(f"{url}/v1/jobs/{trained['id']}/checkpoints", headers=headers).json()
        assert httpx.get(checkpoints[-1]["sample_urls"][0]).content.startswith(b"\x89PNG")
        files = httpx.get(f"{url}/v1/datasets/{ids['dataset']}/files", headers=headers).json()["items"]
        assert [len(httpx.get(f["url"]).content) for f in files] == [f["size_bytes"] for f in files]
    stored = list((data_dir / "objects").glob(f"tenants/*/datasets/{ids['dataset']}/images/*"))
    assert len(stored) == len(files) == 4, stored  # the uploaded images are in the data dir it was given

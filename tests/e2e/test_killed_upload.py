"""An API process SIGKILLed in the middle of a large upload leaves nothing behind for good: no
rows, its temporary files removed when the API starts again, its objects swept once they are older
than the grace; a retry then stores exactly one object per row."""

from __future__ import annotations

import io
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from minio import Minio
from PIL import Image

from sanacloud.platform.settings import Settings
from sanacloud.platform.storage.s3 import S3ObjectStore
from sanacloud.workers.celery_app import make_celery
from tests.helpers.brokers import redis_broker
from tests.helpers.cluster import bucket_name, cli, cluster_settings
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.processes import SANACLOUD, running, tail, wait_for_text, wait_healthy
from tests.helpers.services import free_port, fresh_pg_database

pytestmark = pytest.mark.slow
IMAGES = 300  # of 192 KiB each: storing them takes seconds, so the kill lands in the middle


@pytest.fixture
def env(s3_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "system-tmp").mkdir()
    with fresh_pg_database() as database_url, redis_broker() as broker:
        yield {**cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                                  data_dir=tmp_path / "data", bucket=bucket_name("killed-upload", tmp_path),
                                  upload_tmp_dir=str(tmp_path / "uploads"), orphan_grace_s="1"),
               "TMPDIR": str(tmp_path / "system-tmp")}  # where the code before uploads' own folder left its files


def noise_pngs(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(buffer, format="PNG", compress_level=0)
        files.append(("files", (f"noise/{i:03d}.png", buffer.getvalue(), "image/png")))
    return files


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def api_argv() -> tuple[str, list[str]]:
    port = free_port()
    return f"http://127.0.0.1:{port}", [SANACLOUD, "api", "--host", "127.0.0.1", "--port", str(port)]


@pytest.mark.timeout(300)
def test_an_api_killed_mid_upload_leaves_no_orphans(env: dict[str, str], tmp_path: Path) -> None:
    cli(env, "migrate")
    admin_key = cli(env, "admin", "create-key", "--platform-admin")
    store = S3ObjectStore(Minio(env["SANACLOUD_S3_ENDPOINT"], access_key="testing", secret_key="x", secure=False),
                          env["SANACLOUD_S3_BUCKET"])
    store.ensure_bucket()
    uploads, log = tmp_path / "uploads", tmp_path / "api.log"
    files = noise_pngs(IMAGES)

    url, argv = api_argv()
    with running(argv, env, log) as api:
        wait_healthy(url, api, log)
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=scaled(30))
        tenant = admin.post("/v1/admin/tenants", json={"name": "acme"}).json()
        key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys",
                         json={"name": "ci", "email": "ci@acme.example.com", "role": "tenant_admin"}).json()["key"]
        auth = {"Authorization": f"Bearer {key}"}
        dataset_id = httpx.post(f"{url}/v1/datasets", json={"name": "noise"}, headers=auth).json()["id"]
        prefix = f"tenants/{tenant['id']}/"
        failed: list[BaseException] = []

        def upload() -> None:
            try:
                httpx.post(f"{url}/v1/datasets/{dataset_id}/files", files=files, headers=auth, timeout=scaled(120))
            except httpx.TransportError as error:  # the server died under it
                failed.append(error)

        uploading = threading.Thread(target=upload)
        uploading.start()
        wait_until(lambda: any(store.list(prefix)), what="the upload's first object in S3", timeout_s=60,
                   every_s=0.01, describe=lambda: f"{len(files_under(uploads))} temporary files; {tail(log)}")
        api.send_signal(signal.SIGKILL)
        api.wait()
        uploading.join(timeout=scaled(30))
    assert failed, "the upload answered although its server was killed"
    orphans = [info.key for info in store.list(prefix)]
    assert 0 < len(orphans) < IMAGES, f"the kill was not in the middle of storing: {len(orphans)} objects"
    assert files_under(tmp_path / "system-tmp") == []
    assert files_under(uploads), "the killed upload's temporary files are not in the uploads' folder"

    url, argv = api_argv()
    worker_log = tmp_path / "worker.log"
    with running([SANACLOUD, "worker", "--queues", "maintenance"], env, worker_log), running(argv, env, log) as api:
        wait_healthy(url, api, log)
        assert files_under(uploads) == [], "the restarted API left the killed upload's temporary files"
        http = httpx.Client(base_url=url, headers=auth, timeout=scaled(120))
        assert http.get(f"/v1/datasets/{dataset_id}").json()["file_count"] == 0
        assert http.get(f"/v1/datasets/{dataset_id}/files").json()["items"] == []

        wait_for_text(worker_log, "ready.")
        celery = make_celery(Settings(**{k.removeprefix("SANACLOUD_").lower(): v for k, v in env.items()
                                         if k.startswith("SANACLOUD_")}))
        celery.send_task("sanacloud.maintenance.sweep_orphans", queue="maintenance")
        wait_until(lambda: not any(store.list(prefix)), what="the sweep to delete the orphaned objects",
                   timeout_s=60, describe=lambda: tail(worker_log))
        wait_for_text(worker_log, f"swept {len(orphans)} orphaned objects")

        retry = http.post(f"/v1/datasets/{dataset_id}/files", files=files)
        assert retry.status_code == 201 and retry.json()["accepted"] == IMAGES, retry.text
        assert http.get(f"/v1/datasets/{dataset_id}").json()["file_count"] == IMAGES
        assert len(list(store.list(prefix))) == IMAGES

"""What the dashboard reads beyond the tenant's own lists: a checkpoint's weights to download, the
queue of waiting jobs across tenants, GPU time over time, and the names of a job's pool and base model."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool, UsageRecord
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import fetch, new_job
from tests.helpers.backends import TenantCtx
from tests.helpers.serving import finished_job_checkpoint


def test_a_checkpoints_lora_file_downloads_and_only_its_tenant_sees_it(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    acme, globex = make_tenant("acme"), make_tenant("globex")
    checkpoint_id = finished_job_checkpoint(acme, "lora", {
        "pytorch_lora_weights.safetensors": b"lora weights", "trainer.pt": b"state", "samples/0.png": b"png"})
    files = client.get(f"/v1/checkpoints/{checkpoint_id}/files", headers=acme.headers)
    assert files.status_code == 200, files.text
    assert [(f["name"], f["size_bytes"]) for f in files.json()] == [("pytorch_lora_weights.safetensors", 12)]
    assert fetch(client, files.json()[0]["url"]) == b"lora weights"
    other = client.get(f"/v1/checkpoints/{checkpoint_id}/files", headers=globex.headers)
    assert other.status_code == 404 and checkpoint_id in other.json()["detail"]


def test_a_full_runs_checkpoint_lists_its_transformer_files(client: TestClient, tenant: TenantCtx) -> None:
    checkpoint_id = finished_job_checkpoint(tenant, "full", {
        "transformer/config.json": b"{}", "transformer/diffusion_pytorch_model.safetensors": b"w", "trainer.pt": b"s"})
    names = [f["name"] for f in client.get(f"/v1/checkpoints/{checkpoint_id}/files", headers=tenant.headers).json()]
    assert names == ["transformer/config.json", "transformer/diffusion_pytorch_model.safetensors"]


def test_admins_see_the_queue_across_tenants_with_each_wait_reason(client: TestClient, make_tenant,  # type: ignore[no-untyped-def]
                                                                  admin_headers: dict[str, str]) -> None:
    acme, globex = make_tenant("acme", nominal_gpus=1), make_tenant("globex", nominal_gpus=1)
    running = new_job(client, acme)
    waiting = new_job(client, acme)
    other = new_job(client, globex)
    queue = client.get("/v1/admin/jobs", params={"status": "queued"}, headers=admin_headers)
    assert queue.status_code == 200, queue.text
    assert [(job["id"], job["tenant"], job["pool"]) for job in queue.json()["items"]] == [(waiting, "acme", "gpu")]
    assert running in queue.json()["items"][0]["wait_reason"]  # names what holds the GPU it needs
    mine_now = client.get(f"/v1/jobs/{waiting}", headers=acme.headers).json()
    assert (mine_now["pool"], mine_now["base_model"]) == ("gpu", "sana-tiny")  # names, not only ids
    everyone = client.get("/v1/admin/jobs", params={"pool": "gpu"}, headers=admin_headers).json()["items"]
    assert {job["id"] for job in everyone} == {running, waiting, other}
    mine = client.get("/v1/admin/jobs", params={"tenant_id": globex.id}, headers=admin_headers).json()["items"]
    assert [job["id"] for job in mine] == [other]
    unknown = client.get("/v1/admin/jobs", params={"pool": "nope"}, headers=admin_headers)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    assert client.get("/v1/admin/jobs", headers=acme.headers).status_code == 403


def test_gpu_time_over_time_is_spread_over_the_buckets_it_ran_in(client: TestClient, tenant: TenantCtx,
                                                                 admin_headers: dict[str, str]) -> None:
    job_id = new_job(client, tenant)
    until = utcnow().replace(microsecond=0)
    with session_scope() as session:  # 2 GPUs from 40 s to 10 s before `until`
        pool = session.scalars(select(GpuPool).where(GpuPool.name == "gpu")).one()
        session.add(UsageRecord(tenant_id=tenant.id, pool_id=pool.id, job_id=job_id, gpus=2, gpu_seconds=60.0,
                                started_at=until - timedelta(seconds=40), ended_at=until - timedelta(seconds=10)))
    series = client.get("/v1/admin/usage/series", headers=admin_headers, params={
        "since": (until - timedelta(seconds=80)).isoformat(), "until": until.isoformat(), "buckets": 4})
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["bucket_s"] == 20 and len(body["starts"]) == 4
    assert [(line["tenant"], line["pool"], line["gpu_seconds"]) for line in body["lines"]] == [
        ("acme", "gpu", [0.0, 0.0, 40.0, 20.0])]
    too_many = client.get("/v1/admin/usage/series", headers=admin_headers, params={"buckets": 501})
    assert too_many.status_code == 422
    assert client.get("/v1/admin/usage/series", headers=tenant.headers).status_code == 403

"""The orphan sweep on both backends: it deletes old objects that no row owns, and only those."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from sanacloud.platform.db.base import new_id, utcnow
from sanacloud.platform.db.models import Checkpoint, DatasetFile, Endpoint, Generation, GpuPool, Job, Model
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.serving.promotion import STORE_SCHEME
from sanacloud.platform.storage.local import LocalObjectStore
from sanacloud.platform.storage.sweep import Removed, sweep_orphans
from tests.helpers.api import ready_dataset
from tests.helpers.backends import TenantCtx, object_keys, store
from tests.helpers.deadlines import wait_until


def owned_rows(tenant: TenantCtx, dataset_id: str) -> dict[str, str]:
    """A row of every kind that owns objects; returns their ids."""
    with session_scope() as session:
        base = session.scalars(select(Model).where(Model.name == "sana-tiny")).one()
        pool = session.scalars(select(GpuPool)).one()
        job = {"base_model_id": base.id, "pool_id": pool.id, "dataset_id": dataset_id, "type": "lora"}
        running = Job(tenant_id=tenant.id, name="a", status="running", **job)
        finished = Job(tenant_id=tenant.id, name="b", status="succeeded", **job)
        model_id = new_id("mdl")
        model = Model(id=model_id, tenant_id=tenant.id, name="mine", kind="lora", family=base.family,
                      base_model_id=base.id, uri=f"{STORE_SCHEME}tenants/{tenant.id}/models/{model_id}/")
        session.add_all([running, finished, model])
        session.flush()
        session.add(Checkpoint(job_id=finished.id, tenant_id=tenant.id, step=10, metrics={},
                               object_prefix=f"tenants/{tenant.id}/jobs/{finished.id}/checkpoints/step-000010/"))
        endpoint = Endpoint(tenant_id=tenant.id, model_id=model.id, pool_id=pool.id, name="ep")
        session.add(endpoint)
        session.flush()
        done_id = new_id("gen")
        done = Generation(id=done_id, tenant_id=tenant.id, endpoint_id=endpoint.id, status="succeeded",
                          image_keys=[f"tenants/{tenant.id}/endpoints/{endpoint.id}/generations/{done_id}/0.png"])
        pending = Generation(tenant_id=tenant.id, endpoint_id=endpoint.id, status="pending")
        session.add_all([done, pending])
        session.flush()
        return {"running": running.id, "finished": finished.id, "model": model.id, "endpoint": endpoint.id,
                "done": done.id, "pending": pending.id}


def newest(keys: list[str]) -> datetime:
    return max(info.modified for info in store().list("tenants/") if info.key in keys and info.modified)


def test_sweep_removes_old_orphans_and_keeps_owned_young_and_unknown(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant, images=2)
    ids = owned_rows(tenant, dataset_id)
    t = f"tenants/{tenant.id}"
    gens = f"{t}/endpoints/{ids['endpoint']}/generations"
    uploaded = object_keys(f"{t}/datasets/")
    written = [f"{t}/jobs/{ids['running']}/checkpoints/step-000020/adapter.safetensors",  # not recorded yet
               f"{t}/jobs/{ids['finished']}/checkpoints/step-000010/adapter.safetensors",
               f"{t}/models/{ids['model']}/pytorch_lora_weights.safetensors",
               f"{gens}/{ids['done']}/0.png", f"{gens}/{ids['pending']}/0.png",
               f"{t}/uploads/unknown-layout.bin", "elsewhere/not-a-tenant.bin"]
    orphans = [f"{t}/datasets/{dataset_id}/images/file_killed.png",  # an upload killed before its commit
               f"{t}/datasets/ds_deleted/images/file_x.png",
               f"{t}/jobs/{ids['finished']}/checkpoints/step-000005/adapter.safetensors",  # pruned
               f"{t}/jobs/job_deleted/checkpoints/step-000001/adapter.safetensors",
               f"{t}/models/mdl_deleted/pytorch_lora_weights.safetensors",
               f"{gens}/{ids['done']}/1.png", f"{gens}/gen_deleted/0.png"]
    other_tenant = "tenants/ten_gone/datasets/ds_x/images/file_y.png"
    for key in written + orphans:
        store().put_bytes(key, b"x" * 10)
    owned = uploaded + written
    store().put_bytes(other_tenant, b"y" * 7)
    old = owned + orphans + [other_tenant]
    # S3 times objects to the second: leave a clear gap between the old objects and the young ones.
    wait_until(lambda: utcnow() - newest(old) > timedelta(seconds=2.5), what="the old objects to age",
               timeout_s=10)
    young = [f"{t}/datasets/{dataset_id}/images/file_uploading.png", f"{t}/models/mdl_promoting/x.safetensors"]
    for key in young:
        store().put_bytes(key, b"z")
    oldest_young = min(info.modified for info in store().list("tenants/") if info.key in young and info.modified)
    grace = utcnow() - (newest(old) + (oldest_young - newest(old)) / 2)

    removed = sweep_orphans(store(), grace_s=grace.total_seconds())

    assert removed == {tenant.id: Removed(objects=len(orphans), bytes=10 * len(orphans)),
                       "ten_gone": Removed(objects=1, bytes=7)}
    assert sorted(object_keys()) == sorted(owned + young)
    with session_scope() as session:
        assert len(session.scalars(select(DatasetFile)).all()) == 2


def test_sweep_within_the_grace_removes_nothing(client: TestClient, tenant: TenantCtx) -> None:
    store().put_bytes(f"tenants/{tenant.id}/datasets/ds_deleted/images/file_x.png", b"x")
    assert sweep_orphans(store(), grace_s=3600) == {}
    assert object_keys() == [f"tenants/{tenant.id}/datasets/ds_deleted/images/file_x.png"]


def test_local_store_discards_old_partial_writes(tmp_path: Path) -> None:
    local = LocalObjectStore(tmp_path / "objects", "http://testserver", "secret")
    tenant = tmp_path / "objects" / "tenants" / "ten_a"
    dead, writing = tenant / "datasets" / "ds_1" / "images" / ".upload-dead", tenant / "models" / ".upload-writing"
    for path in (dead, writing):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half an object")
    an_hour_ago = (utcnow() - timedelta(hours=1)).timestamp()
    os.utime(dead, (an_hour_ago, an_hour_ago))

    assert local.discard_partial_writes(utcnow() - timedelta(minutes=30)) == 1
    assert writing.exists() and not (tenant / "datasets").exists()  # emptied folders go too

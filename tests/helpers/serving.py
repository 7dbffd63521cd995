"""Serving in the test process, as an inference worker does it: a finished job's checkpoint, promoted
to an endpoint; a generation asked for, run by the inference task here, and its images read back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from sanacloud.platform.db.models import Checkpoint, GpuPool, Job, Model
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.storage import get_object_store
from tests.helpers.api import fetch
from tests.helpers.backends import TenantCtx

PROMPT = "a red circle on a blue background"


@pytest.fixture
def cache() -> Iterator[Any]:
    """A fresh model cache for each test (the worker process keeps one for its lifetime)."""
    from sanacloud.workers.inference.task import model_cache

    model_cache.cache_clear()
    yield model_cache()
    model_cache.cache_clear()


def finished_job_checkpoint(tenant: TenantCtx, job_type: str, files: dict[str, bytes]) -> str:
    """A finished job of the tenant on sana-tiny with one checkpoint holding `files` (name: bytes)."""
    with session_scope() as session:
        base = session.scalars(select(Model).where(Model.name == "sana-tiny")).one()
        pool = session.scalars(select(GpuPool)).first()
        assert pool is not None
        job = Job(tenant_id=tenant.id, name="j", type=job_type, status="succeeded", base_model_id=base.id,
                  pool_id=pool.id, requested={}, hyperparameters={})
        session.add(job)
        session.flush()
        prefix = f"tenants/{tenant.id}/jobs/{job.id}/checkpoints/step-000010/"
        for name, data in files.items():
            get_object_store().put_bytes(prefix + name, data)
        checkpoint = Checkpoint(job_id=job.id, tenant_id=tenant.id, step=10, object_prefix=prefix, metrics={})
        session.add(checkpoint)
        session.flush()
        return checkpoint.id


def promoted_endpoint(client: TestClient, tenant: TenantCtx, checkpoint_id: str, **settings: Any) -> str:
    model = client.post(f"/v1/checkpoints/{checkpoint_id}/promote", json={"name": "mine"}, headers=tenant.headers)
    assert model.status_code == 201, model.text
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": model.json()["id"], **settings},
                           headers=tenant.headers)
    assert endpoint.status_code == 201 and endpoint.json()["status"] == "cold", endpoint.text
    return str(endpoint.json()["id"])


def serve(client: TestClient, tenant: TenantCtx, endpoint_id: str, **body: Any) -> dict[str, Any]:
    """Ask without waiting, run the worker's task here, then read the finished generation."""
    from sanacloud.workers.inference.task import generate as task

    asked = client.post(f"/v1/endpoints/{endpoint_id}/generate", json={"prompt": PROMPT, "wait": False, **body},
                        headers=tenant.headers)
    assert asked.status_code == 202 and asked.json()["status"] == "pending", asked.text
    assert task(asked.json()["id"]) is not None
    done: dict[str, Any] = client.get(f"/v1/generations/{asked.json()['id']}", headers=tenant.headers).json()
    assert done["status"] == "succeeded", done
    return done


def pixels(client: TestClient, url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(fetch(client, url))).convert("RGB"), dtype=int)


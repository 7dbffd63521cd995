"""Requests through the API that many tests make: a ready dataset, a submitted job, what a job says."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers.backends import TenantCtx
from tests.helpers.deadlines import scaled
from tests.helpers.images import captioned_zip


def ready_dataset(client: TestClient, tenant: TenantCtx, images: int = 3) -> str:
    """A dataset of `images` captioned PNGs."""
    created = client.post("/v1/datasets", json={"name": "shapes"}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    dataset_id = str(created.json()["id"])
    upload = client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                         files=[("files", ("set.zip", captioned_zip(images)))])
    assert upload.status_code == 201, upload.text
    return dataset_id


def lora_job(dataset_id: str, **overrides: Any) -> dict[str, Any]:
    return {"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny", **overrides}


def submit(client: TestClient, tenant: TenantCtx, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/jobs", json=body, headers={**tenant.headers, **headers})


def new_job(client: TestClient, tenant: TenantCtx, **overrides: Any) -> str:
    """A LoRA job on a fresh one-image dataset; its id."""
    return str(submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1), **overrides)).json()["id"])


def get_job(client: TestClient, tenant: TenantCtx, job_id: str) -> dict[str, Any]:
    return client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()  # type: ignore[no-any-return]


def events(client: TestClient, tenant: TenantCtx, job_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/jobs/{job_id}/events?limit=1000", headers=tenant.headers).json()["items"]  # type: ignore[no-any-return]


def fetch(client: TestClient, url: str) -> bytes:
    """What a presigned URL serves: the API's own (embedded mode) or the S3 server's."""
    if url.startswith("http://testserver"):
        return client.get(url.removeprefix("http://testserver")).content
    return httpx.get(url, timeout=scaled(30)).content

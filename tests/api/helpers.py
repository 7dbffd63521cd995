"""Request helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import TenantCtx
from tests.images import captioned_zip


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

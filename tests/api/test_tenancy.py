"""Tenants are walled off: another tenant's object is a 404 on every route; roles are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sanacloud.platform.db.models import ApiKey, Dataset, DatasetFile, Job, Member
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.images import png


@pytest.fixture
def victim(client: TestClient, make_tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Tenant 'victim' with a dataset (one file), a job, a member and a key."""
    tenant: TenantCtx = make_tenant("victim")
    dataset_id = ready_dataset(client, tenant, images=1)
    file_id = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"][0]["id"]
    job_id = submit(client, tenant, lora_job(dataset_id)).json()["id"]
    member = client.post("/v1/members", json={"email": "x@victim.example.com"}, headers=tenant.headers).json()
    key = client.post("/v1/keys", json={"name": "k", "member_id": member["id"]}, headers=tenant.headers).json()
    return {"tenant": tenant, "dataset": dataset_id, "file": file_id, "job": job_id, "member": member["id"],
            "key": key["id"]}


def tenant_routes(v: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ds, f, job = v["dataset"], v["file"], v["job"]
    return [
        ("GET", f"/v1/datasets/{ds}", {}),
        ("PATCH", f"/v1/datasets/{ds}", {"json": {"name": "stolen"}}),
        ("DELETE", f"/v1/datasets/{ds}", {}),
        ("GET", f"/v1/datasets/{ds}/files", {}),
        ("POST", f"/v1/datasets/{ds}/files", {"files": [("files", ("x.png", png()))]}),
        ("DELETE", f"/v1/datasets/{ds}/files/{f}", {}),
        ("GET", f"/v1/jobs/{job}", {}),
        ("POST", f"/v1/jobs/{job}/cancel", {}),
        ("DELETE", f"/v1/jobs/{job}", {}),
        ("GET", f"/v1/jobs/{job}/events", {}),
        ("GET", f"/v1/jobs/{job}/checkpoints", {}),
        ("POST", "/v1/jobs", {"json": lora_job(ds)}),
        ("PATCH", f"/v1/members/{v['member']}", {"json": {"role": "tenant_admin"}}),
        ("DELETE", f"/v1/members/{v['member']}", {}),
        ("DELETE", f"/v1/keys/{v['key']}", {}),
    ]


def snapshot() -> tuple[int, ...]:
    with session_scope() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(model)) or 0)
                     for model in (Dataset, DatasetFile, Job, Member, ApiKey))


def test_every_route_hides_other_tenants_objects(client: TestClient, victim: dict[str, Any], make_tenant) -> None:  # type: ignore[no-untyped-def]
    intruder: TenantCtx = make_tenant("intruder")
    before = snapshot()
    for method, url, kwargs in tenant_routes(victim):
        response = client.request(method, url, headers=intruder.headers, **kwargs)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "does not exist" in response.json()["detail"]
    assert snapshot() == before
    victim_headers = victim["tenant"].headers
    assert client.get(f"/v1/datasets/{victim['dataset']}", headers=victim_headers).json()["name"] == "shapes"
    assert client.get(f"/v1/jobs/{victim['job']}", headers=victim_headers).json()["status"] == "admitted"


def test_lists_show_only_own_objects(client: TestClient, victim: dict[str, Any], make_tenant) -> None:  # type: ignore[no-untyped-def]
    intruder: TenantCtx = make_tenant("intruder")
    for url in ("/v1/datasets", "/v1/jobs", "/v1/members", "/v1/keys"):
        items = client.get(url, headers=intruder.headers).json()["items"]
        assert all(victim["tenant"].id != item.get("tenant_id") for item in items)
        ids = {item["id"] for item in items}
        assert not ids & {victim["dataset"], victim["job"], victim["member"], victim["key"]}, url
    filtered = client.get(f"/v1/jobs?dataset_id={victim['dataset']}", headers=intruder.headers).json()
    assert filtered["items"] == []


ADMIN_ROUTES = [
    ("GET", "/v1/admin/tenants", {}),
    ("POST", "/v1/admin/tenants", {"json": {"name": "evil"}}),
    ("GET", "/v1/admin/tenants/ten_x", {}),
    ("PATCH", "/v1/admin/tenants/ten_x", {"json": {"status": "disabled"}}),
    ("POST", "/v1/admin/tenants/ten_x/keys", {"json": {"name": "k", "email": "a@b.co"}}),
    ("GET", "/v1/admin/tenants/ten_x/quotas", {}),
    ("PUT", "/v1/admin/tenants/ten_x/quotas/gpu", {"json": {"nominal_gpus": 8}}),
    ("GET", "/v1/admin/pools", {}),
    ("PUT", "/v1/admin/pools/gpu", {"json": {"gpu_type": "h100", "capacity_gpus": 1000}}),
    ("POST", "/v1/admin/base-models", {"json": {"name": "x", "family": "sana-tiny", "uri": "/x"}}),
]


@pytest.mark.parametrize("who", ["member", "tenant_admin"])
def test_tenant_keys_cannot_call_admin_routes(client: TestClient, tenant: TenantCtx, who: str) -> None:
    headers = tenant.member_headers if who == "member" else tenant.headers
    for method, url, kwargs in ADMIN_ROUTES:
        response = client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == 403, (method, url, response.text)
        assert "platform admin" in response.json()["detail"]


def test_member_cannot_manage_members(client: TestClient, tenant: TenantCtx) -> None:
    response = client.post("/v1/members", json={"email": "new@acme.example.com"}, headers=tenant.member_headers)
    assert response.status_code == 403 and "tenant admin" in response.json()["detail"]


def test_requests_without_a_valid_key_are_401(client: TestClient, tenant: TenantCtx) -> None:
    for headers in ({}, {"Authorization": "Bearer sk_nope_nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": tenant.headers["Authorization"] + "x"}):
        response = client.get("/v1/datasets", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_revoked_key_stops_working(client: TestClient, tenant: TenantCtx) -> None:
    created = client.post("/v1/keys", json={"name": "temp"}, headers=tenant.headers).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/v1/datasets", headers=headers).status_code == 200
    assert client.delete(f"/v1/keys/{created['id']}", headers=tenant.headers).json()["revoked_at"]
    assert client.get("/v1/datasets", headers=headers).status_code == 401


def test_platform_admin_key_has_no_tenant_data(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/v1/datasets", headers=admin_headers)
    assert response.status_code == 403 and "tenant member" in response.json()["detail"]

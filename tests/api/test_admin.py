"""Platform and tenant administration over HTTP: tenants, keys, members, pools, quotas, base models."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from sanacloud.platform.db.models import ApiKey, AuditEntry
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_onboard_a_tenant_end_to_end(client: TestClient, admin_headers: dict[str, str]) -> None:
    tenant = client.post("/v1/admin/tenants", json={"name": "globex", "fair_share_weight": 2}, headers=admin_headers)
    assert tenant.status_code == 201 and tenant.json()["status"] == "active"
    tenant_id = tenant.json()["id"]
    pool = client.put("/v1/admin/pools/h100", json={"gpu_type": "h100", "capacity_gpus": 16}, headers=admin_headers)
    assert pool.status_code == 200 and pool.json()["capacity_gpus"] == 16
    quota = client.put(f"/v1/admin/tenants/{tenant_id}/quotas/h100",
                       json={"nominal_gpus": 4, "borrowing_limit_gpus": 2}, headers=admin_headers)
    assert quota.json() == {"tenant_id": tenant_id, "pool": "h100", "nominal_gpus": 4, "borrowing_limit_gpus": 2}
    key = client.post(f"/v1/admin/tenants/{tenant_id}/keys",
                      json={"name": "ops", "email": "ops@globex.example.com", "role": "tenant_admin"},
                      headers=admin_headers)
    assert key.status_code == 201 and key.json()["key"].startswith("sk_") and key.json()["role"] == "tenant_admin"

    headers = bearer(key.json()["key"])
    dataset_id = ready_dataset(client, TenantCtx(tenant_id, "globex", headers, headers))
    job = submit(client, TenantCtx(tenant_id, "globex", headers, headers), lora_job(dataset_id))
    assert job.status_code == 201 and job.json()["gpus"] == 1
    assert [q["pool"] for q in client.get(f"/v1/admin/tenants/{tenant_id}/quotas", headers=admin_headers).json()] == [
        "h100"]


def test_key_is_shown_once_and_only_its_hash_is_stored(client: TestClient, admin_headers: dict[str, str],
                                                       tenant: TenantCtx) -> None:
    created = client.post("/v1/keys", json={"name": "laptop"}, headers=tenant.headers).json()
    listed = client.get("/v1/keys", headers=tenant.headers).json()["items"]
    assert all("key" not in item for item in listed)
    with session_scope() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
        assert row is not None and created["key"] not in (row.key_hash, row.prefix)
        assert len(row.key_hash) == 64


def test_disabled_tenant_is_locked_out(client: TestClient, admin_headers: dict[str, str], tenant: TenantCtx) -> None:
    assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200
    response = client.patch(f"/v1/admin/tenants/{tenant.id}", json={"status": "disabled"}, headers=admin_headers)
    assert response.json()["status"] == "disabled"
    locked = client.get("/v1/datasets", headers=tenant.headers)
    assert locked.status_code == 403 and "disabled" in locked.json()["detail"]
    client.patch(f"/v1/admin/tenants/{tenant.id}", json={"status": "active"}, headers=admin_headers)
    assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200


def test_tenant_names_are_unique_and_validated(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.post("/v1/admin/tenants", json={"name": "initech"}, headers=admin_headers).status_code == 201
    again = client.post("/v1/admin/tenants", json={"name": "initech"}, headers=admin_headers)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    bad = client.post("/v1/admin/tenants", json={"name": "Not A Slug!"}, headers=admin_headers)
    assert bad.status_code == 422 and "name" in bad.json()["detail"]


def test_quota_cannot_exceed_pool_capacity(client: TestClient, admin_headers: dict[str, str],
                                           tenant: TenantCtx) -> None:
    response = client.put(f"/v1/admin/tenants/{tenant.id}/quotas/gpu", json={"nominal_gpus": 99},
                          headers=admin_headers)
    assert response.status_code == 422 and "capacity of 8" in response.json()["detail"]
    missing = client.put(f"/v1/admin/tenants/{tenant.id}/quotas/nope", json={"nominal_gpus": 1},
                         headers=admin_headers)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_tenants_list_paginates(client: TestClient, admin_headers: dict[str, str]) -> None:
    for i in range(3):
        client.post("/v1/admin/tenants", json={"name": f"t{i}"}, headers=admin_headers)
    first = client.get("/v1/admin/tenants?limit=2", headers=admin_headers).json()
    rest = client.get(f"/v1/admin/tenants?limit=2&cursor={first['next_cursor']}", headers=admin_headers).json()
    assert [t["name"] for t in first["items"] + rest["items"]] == ["t2", "t1", "t0"]


def test_import_base_model_makes_it_usable(client: TestClient, admin_headers: dict[str, str],
                                           tenant: TenantCtx) -> None:
    body = {"name": "sana-600m", "family": "sana-600m-1024", "uri": "s3://models/Sana_600M_1024px_diffusers"}
    created = client.post("/v1/admin/base-models", json=body, headers=admin_headers)
    assert created.status_code == 201 and created.json()["native_resolution"] == 1024
    assert client.post("/v1/admin/base-models", json=body, headers=admin_headers).status_code == 409
    unknown = client.post("/v1/admin/base-models", json={**body, "name": "x", "family": "flux"}, headers=admin_headers)
    assert unknown.status_code == 422 and "unknown model family 'flux'" in unknown.json()["detail"]
    names = [m["name"] for m in client.get("/v1/base-models", headers=tenant.member_headers).json()]
    assert names == ["sana-600m", "sana-tiny"]
    job = submit(client, tenant, lora_job(ready_dataset(client, tenant), base_model="sana-600m"))
    assert job.status_code == 201 and job.json()["hyperparameters"]["resolution"] == 1024
    assert job.json()["hyperparameters"]["mixed_precision"] == "fp16"  # the 1024px checkpoints are fp16


def test_members_and_their_keys(client: TestClient, tenant: TenantCtx) -> None:
    member = client.post("/v1/members", json={"email": "dev@acme.example.com"}, headers=tenant.headers)
    assert member.status_code == 201 and member.json()["role"] == "member"
    duplicate = client.post("/v1/members", json={"email": "dev@acme.example.com"}, headers=tenant.headers)
    assert duplicate.status_code == 409
    key = client.post("/v1/keys", json={"name": "ci", "member_id": member.json()["id"]}, headers=tenant.headers).json()
    dev = bearer(key["key"])
    assert client.get("/v1/datasets", headers=dev).status_code == 200
    own = client.get("/v1/keys", headers=dev).json()["items"]
    assert [k["id"] for k in own] == [key["id"]]  # a member sees only their own keys

    promoted = client.patch(f"/v1/members/{member.json()['id']}", json={"role": "tenant_admin"}, headers=tenant.headers)
    assert promoted.json()["role"] == "tenant_admin"
    assert client.post("/v1/members", json={"email": "x@acme.example.com"}, headers=dev).status_code == 201

    assert client.delete(f"/v1/members/{member.json()['id']}", headers=tenant.headers).status_code == 204
    assert client.get("/v1/datasets", headers=dev).status_code == 401


def test_last_tenant_admin_cannot_be_removed(client: TestClient, tenant: TenantCtx) -> None:
    admins = [m for m in client.get("/v1/members", headers=tenant.headers).json()["items"]
              if m["role"] == "tenant_admin"]
    assert len(admins) == 1
    response = client.delete(f"/v1/members/{admins[0]['id']}", headers=tenant.headers)
    assert response.status_code == 409 and "at least one tenant admin" in response.json()["detail"]


def test_member_cannot_issue_keys_for_others(client: TestClient, tenant: TenantCtx) -> None:
    admin_member = client.get("/v1/members", headers=tenant.headers).json()["items"]
    target = next(m for m in admin_member if m["role"] == "tenant_admin")
    response = client.post("/v1/keys", json={"name": "steal", "member_id": target["id"]},
                           headers=tenant.member_headers)
    assert response.status_code == 403


def test_admin_actions_are_audited(client: TestClient, admin_headers: dict[str, str]) -> None:
    tenant_id = client.post("/v1/admin/tenants", json={"name": "audited"}, headers=admin_headers).json()["id"]
    client.patch(f"/v1/admin/tenants/{tenant_id}", json={"fair_share_weight": 3}, headers=admin_headers)
    with session_scope() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == tenant_id)
                                  .order_by(AuditEntry.id)).all()
    assert actions == ["tenant.create", "tenant.update"]


def test_errors_share_one_shape(client: TestClient, tenant: TenantCtx) -> None:
    responses = [client.get("/v1/nowhere", headers=tenant.headers), client.delete("/v1/jobs", headers=tenant.headers),
                 client.get("/v1/jobs/job_x", headers=tenant.headers), client.get("/v1/jobs")]
    for response in responses:
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert set(body) >= {"type", "title", "status", "detail", "instance"} and body["status"] == response.status_code


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/datasets", "/v1/jobs", "/v1/admin/tenants"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_last_key_that_administers_a_tenant_cannot_be_revoked(client: TestClient, tenant: TenantCtx) -> None:
    keys = client.get("/v1/keys", headers=tenant.headers).json()["items"]
    admin_key = next(key for key in keys if key["role"] == "tenant_admin")
    member_key = next(key for key in keys if key["role"] == "member")
    refused = client.delete(f"/v1/keys/{admin_key['id']}", headers=tenant.headers)
    assert refused.status_code == 409 and "at least one tenant admin" in refused.json()["detail"]
    assert client.get("/v1/keys", headers=tenant.headers).status_code == 200  # the key still works
    assert client.delete(f"/v1/keys/{member_key['id']}", headers=tenant.headers).status_code == 200


def test_an_admin_without_a_key_does_not_count_as_the_tenants_admin(client: TestClient, tenant: TenantCtx) -> None:
    keyless = client.post("/v1/members", headers=tenant.headers,
                          json={"email": "keyless@acme.example.com", "role": "tenant_admin"})
    assert keyless.status_code == 201, keyless.text
    me = next(m for m in client.get("/v1/members", headers=tenant.headers).json()["items"]
              if m["email"] == "admin@acme.test")
    demoted = client.patch(f"/v1/members/{me['id']}", headers=tenant.headers, json={"role": "member"})
    assert demoted.status_code == 409, demoted.text
    client.post("/v1/keys", headers=tenant.headers, json={"name": "k", "member_id": keyless.json()["id"]})
    assert client.patch(f"/v1/members/{me['id']}", headers=tenant.headers, json={"role": "member"}).status_code == 200

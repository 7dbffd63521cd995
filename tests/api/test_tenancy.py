"""Tenants are walled off: another tenant's object is a 404 on every route; roles are enforced.

The routes come from the app itself, so that a new route cannot escape these checks: one that
names an object in its path is asked for the victim's object, one that reads a collection must
name none of the victim's objects, one under /v1/admin refuses tenant keys. A route that is not
tenant-scoped is listed as such, with why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from sanacloud.platform.db.models import (
    ApiKey,
    Checkpoint,
    Dataset,
    DatasetFile,
    Endpoint,
    Generation,
    Job,
    Member,
    Model,
    Webhook,
    WebhookDelivery,
)
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import lora_job, ready_dataset
from tests.helpers.backends import TenantCtx
from tests.helpers.images import png
from tests.helpers.serving import finished_job_checkpoint

Route = tuple[str, str]  # (method, path template)

NOT_TENANT_SCOPED = {
    ("GET", "/"): "a redirect to /dashboard/",
    ("GET", "/docs"): "the API's documentation pages",
    ("GET", "/docs/oauth2-redirect"): "the API's documentation pages",
    ("GET", "/redoc"): "the API's documentation pages",
    ("GET", "/healthz"): "a probe: it takes no key and reads nothing",
    ("GET", "/readyz"): "a probe: it takes no key and reads no tenant's data",
    ("GET", "/v1/base-models"): "the base models that every tenant shares",
    ("GET", "/v1/objects/{key:path}"): "a presigned URL, which its signature authorizes (test_objects.py)",
    ("PUT", "/v1/objects/{key:path}"): "a presigned URL, which its signature authorizes (test_objects.py)",
}
# Tenant routes that name no object, in the path or the body: the object they make is the caller's.
NAMES_NO_OBJECT = {("POST", "/v1/datasets"), ("POST", "/v1/members"), ("POST", "/v1/webhooks")}
TENANT_TABLES = (Dataset, DatasetFile, Job, Checkpoint, Model, Endpoint, Generation, Member, ApiKey, Webhook,
                 WebhookDelivery)


@dataclass(frozen=True)
class Victim:
    tenant: TenantCtx
    ids: dict[str, str]  # by the name of the path parameter that takes the object's id


def routes(app: FastAPI) -> list[Route]:
    """Every route function's (method, path): those of included routers too, which `app.routes` nests."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  if isinstance(route.original_route, APIRoute) for method in route.methods)


def parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)", path)


def tenant_routes(app: FastAPI) -> list[Route]:
    return [(method, path) for method, path in routes(app)
            if (method, path) not in NOT_TENANT_SCOPED and not path.startswith("/v1/admin/")]


def requests(victim: Victim) -> dict[Route, dict[str, Any]]:
    """What each tenant route that takes a body is sent (a body the route accepts, so that only the
    lookup refuses it), naming the victim's objects wherever the body names one."""
    ids = victim.ids
    return {
        ("POST", "/v1/jobs"): {"json": lora_job(ids["dataset_id"])},
        ("POST", "/v1/endpoints"): {"json": {"name": "stolen", "model": ids["model_id"]}},
        ("POST", "/v1/keys"): {"json": {"name": "stolen", "member_id": ids["member_id"]}},
        ("PATCH", "/v1/datasets/{dataset_id}"): {"json": {"name": "stolen"}},
        ("POST", "/v1/datasets/{dataset_id}/files"): {"files": [("files", ("x.png", png()))]},
        ("POST", "/v1/datasets/{dataset_id}/captions"): {"json": {}},
        ("PATCH", "/v1/members/{member_id}"): {"json": {"role": "tenant_admin"}},
        ("POST", "/v1/checkpoints/{checkpoint_id}/promote"): {"json": {"name": "stolen"}},
        ("PATCH", "/v1/endpoints/{endpoint_id}"): {"json": {"name": "stolen"}},
        ("POST", "/v1/endpoints/{endpoint_id}/generate"): {"json": {"prompt": "stolen", "wait": False}},
        ("PATCH", "/v1/webhooks/{webhook_id}"): {"json": {"enabled": False}},
        ("PATCH", "/v1/jobs/{job_id}"): {"json": {"steps": 99}},
    }


@pytest.fixture
def victim(client: TestClient, make_tenant) -> Victim:  # type: ignore[no-untyped-def]
    """Tenant 'victim' with one of every object a route can name: a dataset with a file, a job, a
    checkpoint promoted to a model, an endpoint with a generation, a member and a key."""
    tenant: TenantCtx = make_tenant("victim")
    dataset_id = ready_dataset(client, tenant, images=1)
    file_id = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"][0]["id"]
    checkpoint_id = finished_job_checkpoint(tenant, "lora", {LORA_WEIGHTS: b"lora weights"})

    def made(path: str, body: dict[str, Any]) -> str:
        response = client.post(path, json=body, headers=tenant.headers)
        assert response.status_code in (201, 202), response.text
        return str(response.json()["id"])

    job_id = made("/v1/jobs", lora_job(dataset_id))
    model_id = made(f"/v1/checkpoints/{checkpoint_id}/promote", {"name": "m"})
    endpoint_id = made("/v1/endpoints", {"name": "ep", "model": "sana-tiny"})
    generation_id = made(f"/v1/endpoints/{endpoint_id}/generate", {"prompt": "a red square", "wait": False})
    member_id = made("/v1/members", {"email": "x@victim.example.com"})
    key_id = made("/v1/keys", {"name": "k", "member_id": member_id})
    webhook_id = made("/v1/webhooks", {"url": "https://8.8.8.8/hook"})  # a public address: no DNS lookup
    return Victim(tenant, {"dataset_id": dataset_id, "file_id": file_id, "job_id": job_id,
                           "checkpoint_id": checkpoint_id, "model_id": model_id, "endpoint_id": endpoint_id,
                           "generation_id": generation_id, "member_id": member_id, "key_id": key_id,
                           "webhook_id": webhook_id})


def row_counts() -> tuple[int, ...]:
    with session_scope() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(table)) or 0) for table in TENANT_TABLES)


def test_every_route_that_names_an_object_hides_other_tenants_objects(
        client: TestClient, victim: Victim, make_tenant) -> None:  # type: ignore[no-untyped-def]
    intruder: TenantCtx = make_tenant("intruder")
    sent = requests(victim)
    naming = [(method, path) for method, path in tenant_routes(client.app)
              if parameters(path) or (method != "GET" and (method, path) not in NAMES_NO_OBJECT)]
    before = row_counts()
    for method, path in naming:
        missing = set(parameters(path)) - victim.ids.keys()
        assert not missing, f"{method} {path}: give the victim a {missing} and add it to the fixture"
        assert parameters(path) or (method, path) in sent, f"{method} {path}: a body naming the victim's objects"
        url = path.format(**victim.ids)
        response = client.request(method, url, headers=intruder.headers, **sent.get((method, path), {}))
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "does not exist" in response.json()["detail"]
    assert row_counts() == before
    assert {("POST", "/v1/jobs/{job_id}/cancel"), ("POST", "/v1/jobs")} <= set(naming)
    # A job of the intruder's own, started from the victim's checkpoint.
    stolen_start = {**lora_job(ready_dataset(client, intruder, images=1)),
                    "from_checkpoint": victim.ids["checkpoint_id"]}
    response = client.post("/v1/jobs", json=stolen_start, headers=intruder.headers)
    assert response.status_code == 404 and "does not exist" in response.json()["detail"], response.text
    own = victim.tenant.headers
    assert client.get(f"/v1/datasets/{victim.ids['dataset_id']}", headers=own).json()["name"] == "shapes"
    assert client.get(f"/v1/jobs/{victim.ids['job_id']}", headers=own).json()["status"] == "admitted"
    assert client.get(f"/v1/endpoints/{victim.ids['endpoint_id']}", headers=own).json()["name"] == "ep"


def test_nothing_another_tenant_reads_names_the_victims_objects(client: TestClient, victim: Victim,
                                                               make_tenant) -> None:  # type: ignore[no-untyped-def]
    intruder: TenantCtx = make_tenant("intruder")
    reads = [path for method, path in tenant_routes(client.app) if method == "GET" and not parameters(path)]
    secrets = {*victim.ids.values(), victim.tenant.id}
    for path in reads:
        seen = client.get(path, headers=intruder.headers)
        assert seen.status_code == 200, (path, seen.text)
        assert not [secret for secret in secrets if secret in seen.text], (path, seen.text)
    # The same reads show the victim its own objects: the check above looks where they would show.
    shown = " ".join(client.get(path, headers=victim.tenant.headers).text for path in reads)
    listed = {"dataset_id", "job_id", "model_id", "endpoint_id", "member_id", "key_id", "webhook_id"}
    assert [name for name in listed if victim.ids[name] not in shown] == []
    filtered = client.get(f"/v1/jobs?dataset_id={victim.ids['dataset_id']}", headers=intruder.headers).json()
    assert filtered["items"] == []


@pytest.mark.parametrize("who", ["member", "tenant_admin"])
def test_tenant_keys_cannot_call_admin_routes(client: TestClient, tenant: TenantCtx, who: str) -> None:
    headers = tenant.member_headers if who == "member" else tenant.headers
    admin = [(method, path) for method, path in routes(client.app) if path.startswith("/v1/admin/")]
    for method, path in admin:
        url = path.format(tenant_id=tenant.id, pool="gpu")
        response = client.request(method, url, headers=headers)
        assert response.status_code == 403, (method, url, response.text)
        assert "platform admin" in response.json()["detail"]
    assert ("POST", "/v1/admin/tenants") in admin


def test_member_cannot_manage_members(client: TestClient, tenant: TenantCtx) -> None:
    response = client.post("/v1/members", json={"email": "new@acme.example.com"}, headers=tenant.member_headers)
    assert response.status_code == 403 and "tenant admin" in response.json()["detail"]


def test_requests_without_a_valid_key_are_401(client: TestClient, tenant: TenantCtx) -> None:
    keyed = [(method, path) for method, path in routes(client.app)  # all of /v1 but presigned URLs
             if path.startswith("/v1/") and not path.startswith("/v1/objects/")]
    for headers in ({}, {"Authorization": "Bearer sk_nope_nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": tenant.headers["Authorization"] + "x"}):
        for method, path in keyed:
            response = client.request(method, re.sub(r"{\w+}", "x", path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_key_stops_working(client: TestClient, tenant: TenantCtx) -> None:
    created = client.post("/v1/keys", json={"name": "temp"}, headers=tenant.headers).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/v1/datasets", headers=headers).status_code == 200
    assert client.delete(f"/v1/keys/{created['id']}", headers=tenant.headers).json()["revoked_at"]
    assert client.get("/v1/datasets", headers=headers).status_code == 401


def test_platform_admin_key_has_no_tenant_data(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/v1/datasets", headers=admin_headers)
    assert response.status_code == 403 and "tenant member" in response.json()["detail"]

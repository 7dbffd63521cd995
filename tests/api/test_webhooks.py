"""/v1/webhooks: tenant admins register URLs for events (the secret shown once), members read them
and their deliveries; URLs are refused unless http(s) on public addresses (an operator setting
allows others); another tenant's webhook is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from sanacloud.platform.db.models import Webhook
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from sanacloud.platform.webhooks.signing import webhook_secret
from tests.helpers.backends import TenantCtx
from tests.helpers.webhooks import delivery, emitted

PUBLIC = "https://8.8.8.8/hooks/sanacloud"  # a public address: no DNS lookup needed


@pytest.fixture
def allowing(app_with: Any) -> TestClient:
    """The API with loopback and private URLs allowed (SANACLOUD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES)."""
    with app_with(webhook_allow_private_addresses="true") as client:
        return client  # type: ignore[no-any-return]


def created(client: TestClient, tenant: TenantCtx, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": PUBLIC, **body}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_secret_is_shown_once_and_signs_the_deliveries(client: TestClient, tenant: TenantCtx) -> None:
    made = created(client, tenant, events=["job.status", "job.status", "endpoint.status"])
    assert made["secret"].startswith("whsec_") and made["events"] == ["job.status", "endpoint.status"]
    assert made["enabled"] is True and made["consecutive_failures"] == 0 and made["disabled_reason"] is None
    shown = client.get(f"/v1/webhooks/{made['id']}", headers=tenant.member_headers)
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert made["secret"] not in client.get("/v1/webhooks", headers=tenant.headers).text
    with session_scope() as session:  # not stored: derived from the salt and the platform's key
        row = session.get_one(Webhook, made["id"])
        assert made["secret"] not in (row.secret_salt, row.url)
        assert webhook_secret(get_settings().effective_secret_key, row.secret_salt) == made["secret"]
    assert created(client, tenant)["events"] == ["job.status", "checkpoint.created", "generation.finished",
                                                 "endpoint.status"]


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
    ("http://localhost/hook", "localhost (127.0.0.1) is a loopback address"),
    ("http://10.1.2.3/hook", "a private address"),
    ("http://192.168.0.10/hook", "a private address"),
    ("http://169.254.169.254/latest/meta-data", "a link-local address"),
    ("http://[::1]/hook", "a loopback address"),
    ("http://[fd12::1]/hook", "a unique-local address"),
    ("http://[::ffff:10.0.0.1]/hook", "a private address inside an IPv6 address"),
    ("http://0.0.0.0/hook", "the unspecified address"),
    ("http://224.0.0.1/hook", "a multicast address"),
    ("ftp://8.8.8.8/hook", "only http:// and https:// URLs"),
    ("https:///hook", "no host"),
])
def test_a_url_that_is_not_public_http_is_refused_saying_why(client: TestClient, tenant: TenantCtx, url: str,
                                                             why: str) -> None:
    response = client.post("/v1/webhooks", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("url: ") and why in response.json()["detail"]
    assert client.get("/v1/webhooks", headers=tenant.headers).json()["items"] == []
    made = created(client, tenant)
    changed = client.patch(f"/v1/webhooks/{made['id']}", json={"url": url}, headers=tenant.headers)
    assert changed.status_code == 422 and why in changed.json()["detail"]


def test_an_operator_may_allow_private_addresses(allowing: TestClient, tenant: TenantCtx) -> None:
    response = allowing.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    refused = allowing.post("/v1/webhooks", json={"url": "file:///etc/passwd"}, headers=tenant.headers)
    assert refused.status_code == 422 and "only http:// and https://" in refused.json()["detail"]


@pytest.mark.parametrize("body", [{"url": PUBLIC, "events": ["job.finished"]}, {"url": PUBLIC, "events": []},
                                  {"url": PUBLIC, "secret": "mine"}, {"url": 5}])
def test_a_body_the_api_does_not_take_is_refused(client: TestClient, tenant: TenantCtx, body: dict[str, Any]) -> None:
    assert client.post("/v1/webhooks", json=body, headers=tenant.headers).status_code == 422


def test_members_read_webhooks_and_only_admins_change_them(client: TestClient, tenant: TenantCtx) -> None:
    made = created(client, tenant)
    member = tenant.member_headers
    assert client.post("/v1/webhooks", json={"url": PUBLIC}, headers=member).status_code == 403
    assert client.patch(f"/v1/webhooks/{made['id']}", json={"enabled": False}, headers=member).status_code == 403
    assert client.delete(f"/v1/webhooks/{made['id']}", headers=member).status_code == 403
    assert [w["id"] for w in client.get("/v1/webhooks", headers=member).json()["items"]] == [made["id"]]
    assert client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=member).status_code == 200


def test_another_tenants_webhook_does_not_exist(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    owner, intruder = make_tenant("owner"), make_tenant("intruder")
    made = created(client, owner)
    emitted(owner.id)
    path = f"/v1/webhooks/{made['id']}"
    for method, url, body in [("GET", path, None), ("PATCH", path, {"enabled": False}), ("DELETE", path, None),
                              ("GET", f"{path}/deliveries", None)]:
        response = client.request(method, url, json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == f"webhook {made['id']!r} does not exist"
    assert client.get("/v1/webhooks", headers=intruder.headers).json()["items"] == []
    assert client.get(path, headers=owner.headers).json()["enabled"] is True
    assert len(client.get(f"{path}/deliveries", headers=owner.headers).json()["items"]) == 1


def test_re_enabling_forgets_the_failures(client: TestClient, tenant: TenantCtx) -> None:
    made = created(client, tenant)
    with session_scope() as session:  # as the deliveries leave it (tests/workers/test_webhook_delivery.py)
        session.execute(update(Webhook).where(Webhook.id == made["id"])
                        .values(enabled=False, consecutive_failures=5, disabled_reason="disabled: HTTP 500"))
    shown = client.get(f"/v1/webhooks/{made['id']}", headers=tenant.headers).json()
    assert (shown["enabled"], shown["consecutive_failures"], shown["disabled_reason"]) == (False, 5,
                                                                                           "disabled: HTTP 500")
    assert emitted(tenant.id) == []
    changed = client.patch(f"/v1/webhooks/{made['id']}", json={"enabled": True, "events": ["endpoint.status"]},
                           headers=tenant.headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["consecutive_failures"], changed.json()["disabled_reason"],
            changed.json()["events"]) == (True, 0, None, ["endpoint.status"])
    paused = client.patch(f"/v1/webhooks/{made['id']}", json={"enabled": False}, headers=tenant.headers).json()
    assert paused["enabled"] is False and paused["disabled_reason"] is None


def test_deliveries_page_newest_first(client: TestClient, tenant: TenantCtx) -> None:
    made = created(client, tenant)
    ids = emitted(tenant.id, 3)
    path = f"/v1/webhooks/{made['id']}/deliveries"
    first = client.get(path, params={"limit": 2}, headers=tenant.headers).json()
    rest = client.get(path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers).json()
    listed = [d["id"] for d in first["items"] + rest["items"]]
    assert listed == sorted(ids, reverse=True) and rest["next_cursor"] is None  # ids sort by creation time
    newest = first["items"][0]
    assert newest["status"] == "pending" and newest["attempts"] == 0 and newest["event_type"] == "job.status"
    assert newest["next_attempt_at"] is not None and newest["response_status"] is newest["last_error"] is None
    assert delivery(newest["id"]).event_id == newest["event_id"]


def test_deleting_a_webhook_deletes_its_deliveries(client: TestClient, tenant: TenantCtx) -> None:
    made = created(client, tenant)
    emitted(tenant.id)
    assert client.delete(f"/v1/webhooks/{made['id']}", headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/webhooks/{made['id']}", headers=tenant.headers).status_code == 404
    assert client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=tenant.headers).status_code == 404
    assert emitted(tenant.id) == []


def test_a_tenant_has_a_cap_on_webhooks(app_with: Any, tenant: TenantCtx) -> None:
    with app_with(max_webhooks_per_tenant="1") as client:
        created(client, tenant)
        refused = client.post("/v1/webhooks", json={"url": PUBLIC}, headers=tenant.headers)
        assert refused.status_code == 409 and "SANACLOUD_MAX_WEBHOOKS_PER_TENANT = 1" in refused.json()["detail"]

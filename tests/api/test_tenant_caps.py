"""Per-tenant caps on what can be created, visible in usage, and not passed by concurrent creations."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from sanacloud.platform import tenant_caps
from sanacloud.platform.db.models import Dataset
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import Conflict
from tests.helpers.backends import Backend


def caps_of(client: Any, headers: dict[str, str]) -> dict[str, tuple[int, int]]:
    return {cap["kind"]: (cap["used"], cap["limit"]) for cap in client.get("/v1/usage", headers=headers).json()["caps"]}


def test_a_tenant_at_its_cap_is_refused_and_sees_why_in_usage(app_with: Any, make_tenant: Any) -> None:
    client = app_with(max_datasets_per_tenant="2", max_api_keys_per_tenant="3", max_members_per_tenant="3")
    full, other = make_tenant("full"), make_tenant("other")
    for name in ("a", "b"):
        assert client.post("/v1/datasets", headers=full.headers, json={"name": name}).status_code == 201
    refused = client.post("/v1/datasets", headers=full.headers, json={"name": "c"})
    assert refused.status_code == 409, refused.text
    assert "SANACLOUD_MAX_DATASETS_PER_TENANT = 2" in refused.json()["detail"]
    assert client.post("/v1/datasets", headers=other.headers, json={"name": "c"}).status_code == 201
    # The tenant fixture made 2 members with a key each.
    assert client.post("/v1/keys", headers=full.headers, json={"name": "third"}).status_code == 201
    assert client.post("/v1/keys", headers=full.headers, json={"name": "fourth"}).status_code == 409
    assert client.post("/v1/members", headers=full.headers, json={"email": "c@full.example.com"}).status_code == 201
    assert client.post("/v1/members", headers=full.headers, json={"email": "d@full.example.com"}).status_code == 409
    caps = caps_of(client, full.headers)
    assert caps["datasets"] == (2, 2) and caps["api_keys"] == (3, 3) and caps["members"] == (3, 3)
    assert caps["endpoints"][0] == 0 and caps["active_jobs"][0] == 0


def test_a_revoked_key_makes_room_for_a_new_one(app_with: Any, make_tenant: Any) -> None:
    client = app_with(max_api_keys_per_tenant="2")
    tenant = make_tenant("keys")
    assert client.post("/v1/keys", headers=tenant.headers, json={"name": "x"}).status_code == 409
    member_key = next(key for key in client.get("/v1/keys", headers=tenant.headers).json()["items"]
                      if key["role"] == "member")
    assert client.delete(f"/v1/keys/{member_key['id']}", headers=tenant.headers).status_code == 200
    assert client.post("/v1/keys", headers=tenant.headers, json={"name": "x"}).status_code == 201


def test_concurrent_creations_do_not_pass_the_cap_together(configured: Backend, make_tenant: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if configured.name != "postgres-s3":
        pytest.skip("SQLite runs one writing transaction at a time anyway")
    tenant = make_tenant("racing")
    cap, attempts = 3, 12
    monkeypatch.setenv("SANACLOUD_MAX_DATASETS_PER_TENANT", str(cap))
    from sanacloud.platform.settings import get_settings

    get_settings.cache_clear()
    barrier = threading.Barrier(attempts)
    refused: list[str] = []

    def create(index: int) -> None:
        barrier.wait()
        try:
            with session_scope() as session:
                tenant_caps.ensure_room(session, tenant_id=tenant.id, kind=tenant_caps.Kind.DATASETS)
                session.add(Dataset(tenant_id=tenant.id, name=f"d{index}", report={}))
        except Conflict as error:
            refused.append(error.detail)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope() as session:
        created = session.scalar(select(func.count()).select_from(Dataset).where(Dataset.tenant_id == tenant.id))
    assert (created, len(refused)) == (cap, attempts - cap)

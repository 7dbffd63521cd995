"""What a request goes through before its route: authentication before any body is read, the
body's size limit, the per-key rate limit, the key's bookkeeping, and the probes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, select, update

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import ApiKey
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from tests.helpers.backends import Backend, TenantCtx


def call_counting_body(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, int]:
    """Sends `body` in 64 KiB chunks straight to the ASGI app; returns (status, body bytes it read)."""
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in {**headers, "content-type": "application/json"}.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234), "headers": raw_headers}
    asyncio.run(app(scope, receive, send))
    return status, read


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: larger than the JSON limit, yet a valid upload."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_request_without_a_valid_key_is_refused_before_its_body_is_read(client: TestClient,
                                                                          tenant: TenantCtx) -> None:
    body = json.dumps({"name": "x" * 5_000_000}).encode()
    for headers in ({}, {"Authorization": "Bearer sk_0123456789ab_not-a-real-key"}):
        status, read = call_counting_body(client.app, "POST", "/v1/datasets", headers, body)
        assert (status, read) == (401, 0)
    status, read = call_counting_body(client.app, "POST", "/v1/datasets", tenant.headers, b'{"name": "ok"}')
    assert (status, read) == (201, 14)


def test_json_bodies_have_a_small_limit_and_uploads_the_large_one(client: TestClient, tenant: TenantCtx) -> None:
    limit = get_settings().max_json_bytes
    big = client.post("/v1/datasets", headers=tenant.headers, json={"name": "x" * (limit + 10)})
    assert big.status_code == 413 and "SANACLOUD_MAX_JSON_BYTES" in big.json()["detail"]
    dataset = client.post("/v1/datasets", headers=tenant.headers, json={"name": "large"}).json()
    image = noise_png(800, 800)
    assert len(image) > limit
    upload = client.post(f"/v1/datasets/{dataset['id']}/files", headers=tenant.headers,
                         files=[("files", ("noise.png", image))])
    assert upload.status_code == 201, upload.text


def test_a_key_over_its_rate_is_told_when_to_retry_and_other_keys_go_on(app_with: Any, make_tenant: Any) -> None:
    client = app_with(rate_limit_burst="5", rate_limit_per_s="0.5")
    busy, calm = make_tenant("busy"), make_tenant("calm")
    statuses = [client.get("/v1/datasets", headers=busy.headers).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    refused = client.get("/v1/datasets", headers=busy.headers)
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert "SANACLOUD_RATE_LIMIT_BURST" in refused.json()["detail"]
    assert client.get("/v1/datasets", headers=calm.headers).status_code == 200


def test_a_keys_last_use_is_recorded_at_most_once_a_minute(client: TestClient, tenant: TenantCtx) -> None:
    def last_used() -> Any:
        with session_scope() as session:
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.tenant_id == tenant.id,
                                                                    ApiKey.name == "admin"))

    long_ago = utcnow() - timedelta(hours=1)
    with session_scope() as session:
        session.execute(update(ApiKey).where(ApiKey.tenant_id == tenant.id).values(last_used_at=long_ago))
    assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200
    recorded = last_used()
    assert recorded > long_ago + timedelta(minutes=59)
    assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200
    assert last_used() == recorded


def test_recording_a_keys_use_skips_a_row_another_transaction_holds(client: TestClient, tenant: TenantCtx,
                                                                    backend: Backend) -> None:
    if backend.name != "postgres-s3":
        pytest.skip("SQLite has no row locks: a writer holds the whole database")
    long_ago = utcnow() - timedelta(hours=1)
    with session_scope() as session:
        session.execute(update(ApiKey).where(ApiKey.tenant_id == tenant.id).values(last_used_at=long_ago))
    holder = create_engine(backend.env["SANACLOUD_DATABASE_URL"])
    with holder.connect() as connection, connection.begin():
        connection.execute(select(ApiKey.id).where(ApiKey.tenant_id == tenant.id).with_for_update())
        started = time.monotonic()
        assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200
        assert time.monotonic() - started < 5  # not the 10 s lock timeout, nor forever as before
    holder.dispose()


def test_a_request_that_waits_on_a_lock_too_long_is_a_503_and_changes_nothing(app_with: Any, make_tenant: Any,
                                                                               backend: Backend) -> None:
    if backend.name != "postgres-s3":
        pytest.skip("lock timeouts are PostgreSQL's; SQLite waits its busy timeout for the whole database")
    client = app_with(db_lock_timeout_s="0.5")
    tenant = make_tenant("locked")
    dataset = client.post("/v1/datasets", headers=tenant.headers, json={"name": "before"}).json()
    holder = create_engine(backend.env["SANACLOUD_DATABASE_URL"])
    with holder.connect() as connection, connection.begin():
        connection.exec_driver_sql("SELECT id FROM datasets WHERE id = %s FOR UPDATE", (dataset["id"],))
        renamed = client.patch(f"/v1/datasets/{dataset['id']}", headers=tenant.headers, json={"name": "after"})
    holder.dispose()
    assert renamed.status_code == 503, renamed.text
    assert renamed.headers["retry-after"] == "2" and "SANACLOUD_DB_LOCK_TIMEOUT_S" in renamed.json()["detail"]
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=tenant.headers).json()["name"] == "before"


def test_liveness_needs_no_database_and_readiness_names_what_is_unreachable(app_with: Any) -> None:
    client = app_with()
    assert client.get("/readyz").json() == {"status": "ready"}
    client = app_with(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none", broker_url="redis://127.0.0.1:9/0")
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "the database cannot be reached" in ready.json()["detail"]
    assert "the broker cannot be reached" in ready.json()["detail"]
    assert "nobody" not in ready.text and ":9" not in ready.text

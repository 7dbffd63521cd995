"""`/v1/objects/{key}`: the API's stand-in for S3 presigned URLs when objects live in a local folder.

With S3 (the postgres-s3 backend) presigned URLs come from S3 itself, so the route answers 404
there; everything else here is about the local store and only runs on sqlite-local.
"""

from __future__ import annotations

import time
import types
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import security
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store
from sanacloud.platform.storage.local import LocalObjectStore
from tests.helpers.backends import Backend

KEY = "tenants/ten_a/datasets/ds_1/cat.png"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def signed_url(key: str, method: str, expires_s: int = 60) -> str:
    """A URL signed like the local store's, with any expiry (the store itself only signs valid ones)."""
    query = security.signed_object_query(get_settings().effective_secret_key, method, key, expires_s)
    return f"/v1/objects/{key}?{urlencode(query)}"


ON_LOCAL_STORE = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
ON_S3 = pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)


@pytest.fixture
def local(client: TestClient, configured: Backend) -> LocalObjectStore:
    store = get_object_store()
    assert isinstance(store, LocalObjectStore)
    return store


@ON_S3
def test_route_answers_404_on_s3(client: TestClient, configured: Backend) -> None:
    store = get_object_store()
    store.put_bytes(KEY, PNG_BYTES)
    for method in ("GET", "PUT"):
        response = client.request(method, signed_url(KEY, method), content=b"x" if method == "PUT" else None)
        body = assert_problem(response, 404)
        assert "object store itself" in body["detail"]
    assert store.read_bytes(KEY) == PNG_BYTES


@ON_LOCAL_STORE
def test_presigned_get_returns_the_bytes(client: TestClient, local: LocalObjectStore) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    response = client.get(local.presigned_get_url(KEY, 60))
    assert response.status_code == 200, response.text
    assert response.content == PNG_BYTES
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(PNG_BYTES))


@ON_LOCAL_STORE
def test_presigned_get_of_a_key_that_needs_quoting(client: TestClient, local: LocalObjectStore) -> None:
    # No literal "%XX" in the key: Starlette's TestClient unquotes the already-decoded path a second
    # time (uvicorn unquotes once), so such a key cannot be tested through it.
    key = "tenants/ten_a/odd names/a b+c&d=e?#.bin"
    local.put_bytes(key, b"odd")
    response = client.get(local.presigned_get_url(key, 60))
    assert response.status_code == 200, response.text
    assert response.content == b"odd"
    assert response.headers["content-type"] == "application/octet-stream"


@ON_LOCAL_STORE
def test_tampered_signature_is_refused(client: TestClient, local: LocalObjectStore) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    url = httpx.URL(local.presigned_get_url(KEY, 60))
    signature = url.params["signature"]
    tampered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    for bad in (tampered, signature.upper(), signature[:-2], ""):
        body = assert_problem(client.get(str(url.copy_set_param("signature", bad))), 403)
        assert "signature" in body["detail"]
    # Moving the expiry invalidates the signature too.
    later = str(int(url.params["expires"]) + 3600)
    body = assert_problem(client.get(str(url.copy_set_param("expires", later))), 403)
    assert "signature" in body["detail"]


@ON_LOCAL_STORE
def test_signature_of_another_key_is_refused(client: TestClient, local: LocalObjectStore) -> None:
    other = "tenants/ten_b/datasets/ds_9/secret.png"
    local.put_bytes(KEY, PNG_BYTES)
    local.put_bytes(other, b"the other tenant's")
    query = httpx.URL(local.presigned_get_url(KEY, 60)).query.decode()
    body = assert_problem(client.get(f"/v1/objects/{other}?{query}"), 403)
    assert "signature" in body["detail"]


@ON_LOCAL_STORE
def test_signature_is_bound_to_the_method(client: TestClient, local: LocalObjectStore) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    body = assert_problem(client.put(local.presigned_get_url(KEY, 60), content=b"overwritten"), 403)
    assert "signature" in body["detail"]
    assert local.read_bytes(KEY) == PNG_BYTES
    body = assert_problem(client.get(local.presigned_put_url(KEY, 60)), 403)
    assert "signature" in body["detail"]


@ON_LOCAL_STORE
def test_expired_url_is_refused(client: TestClient, local: LocalObjectStore) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    body = assert_problem(client.get(signed_url(KEY, "GET", expires_s=-1)), 403)
    assert "expired" in body["detail"]


@ON_LOCAL_STORE
def test_url_stops_working_when_it_expires(client: TestClient, local: LocalObjectStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    url = local.presigned_get_url(KEY, 60)
    assert client.get(url).status_code == 200
    now = time.time()
    monkeypatch.setattr(security, "time", types.SimpleNamespace(time=lambda: now + 61))
    body = assert_problem(client.get(url), 403)
    assert "expired" in body["detail"]


@ON_LOCAL_STORE
def test_malformed_query_is_a_problem(client: TestClient, local: LocalObjectStore) -> None:
    local.put_bytes(KEY, PNG_BYTES)
    signature = httpx.URL(local.presigned_get_url(KEY, 60)).params["signature"]
    assert_problem(client.get(f"/v1/objects/{KEY}?expires=soon&signature={signature}"), 403)
    assert_problem(client.get(f"/v1/objects/{KEY}?signature={signature}"), 422)
    assert_problem(client.get(f"/v1/objects/{KEY}"), 422)


@ON_LOCAL_STORE
def test_presigned_put_stores_the_body(client: TestClient, local: LocalObjectStore) -> None:
    key = "tenants/ten_a/uploads/u1.bin"
    body = bytes(range(256)) * 1000
    response = client.put(local.presigned_put_url(key, 60), content=body,
                          headers={"content-type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    assert local.read_bytes(key) == body
    response = client.put(local.presigned_put_url(key, 60), content=b"replaced")
    assert response.status_code == 204, response.text
    assert local.read_bytes(key) == b"replaced"
    assert client.get(local.presigned_get_url(key, 60)).content == b"replaced"


@ON_LOCAL_STORE
def test_put_over_the_size_limit_is_413(client: TestClient, local: LocalObjectStore) -> None:
    limit = 4096
    small = get_settings().model_copy(update={"max_file_bytes": limit})
    client.app.dependency_overrides[get_settings] = lambda: small  # type: ignore[attr-defined]
    try:
        key = "tenants/ten_a/uploads/big.bin"
        body = assert_problem(client.put(local.presigned_put_url(key, 60), content=b"x" * (limit + 1)), 413)
        assert str(limit) in body["detail"]
        assert not local.exists(key)
        assert [p for p in local.root.rglob("*") if p.is_file()] == []
        response = client.put(local.presigned_put_url(key, 60), content=b"x" * limit)
        assert response.status_code == 204, response.text
        assert local.stat(key).size == limit
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


@ON_LOCAL_STORE
def test_get_of_a_missing_object_is_404(client: TestClient, local: LocalObjectStore) -> None:
    key = "tenants/ten_a/datasets/ds_1/gone.png"
    body = assert_problem(client.get(local.presigned_get_url(key, 60)), 404)
    assert key in body["detail"]

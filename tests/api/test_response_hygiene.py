"""Every response says `X-Content-Type-Options: nosniff` (so a browser never sniffs a served
object into HTML) and carries its own `X-Request-Id` (a server error's is in its log line), and
no error repeats a huge piece of input whole: a 10,000-character id comes back as its first 100
characters and an ellipsis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sanacloud.api.limits import BodySizeLimit
from sanacloud.api.usage import service as usage_service
from sanacloud.platform.storage import get_object_store
from sanacloud.platform.storage.local import LocalObjectStore
from tests.helpers.backends import TenantCtx

ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
HUGE = "x" * 10_000
SMALL_RESPONSE = 1500  # bytes: a problem that names the input without repeating all of it


@ONE_BACKEND
def test_a_presigned_object_is_served_with_nosniff(client: TestClient) -> None:
    store = get_object_store()
    assert isinstance(store, LocalObjectStore)
    store.put_bytes("tenants/ten_a/datasets/ds_1/cat.png", b"<html><script>alert(1)</script></html>")
    response = client.get(store.presigned_get_url("tenants/ten_a/datasets/ds_1/cat.png", 60))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"


@ONE_BACKEND
def test_every_kind_of_response_says_nosniff_and_its_request_id(client: TestClient, tenant: TenantCtx,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    answers = {
        "json": client.get("/healthz"),
        "docs page": client.get("/docs"),
        "not found": client.get("/v1/jobs/job_missing", headers=tenant.headers),
        "invalid input": client.post("/v1/datasets", json={"name": 5}, headers=tenant.headers),
        "unauthorized": client.get("/v1/jobs"),
        "too large": client.post("/v1/datasets", content=b"{}", headers={**tenant.headers,
                                                                         "content-length": str(2**40)}),
    }
    monkeypatch.setattr(usage_service, "tenant_usage", _fail)
    answers["server error"] = client.get("/v1/usage", headers=tenant.headers)
    assert answers["server error"].status_code == 500
    missing = [kind for kind, answer in answers.items() if answer.headers.get("x-content-type-options") != "nosniff"]
    assert not missing, f"no nosniff on: {missing}"
    ids = {kind: answer.headers.get("x-request-id", "") for kind, answer in answers.items()}
    assert all(value.startswith("req_") for value in ids.values()), ids
    assert len(set(ids.values())) == len(ids), f"request ids repeat: {ids}"
    assert ids["server error"] in caplog.text


def _fail(*_: object, **__: object) -> None:
    raise RuntimeError("boom")


@ONE_BACKEND
def test_a_404_names_a_huge_id_by_its_start(client: TestClient, tenant: TenantCtx) -> None:
    response = client.get(f"/v1/jobs/{HUGE}", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == f"job '{'x' * 100}'... does not exist"
    assert len(response.content) < SMALL_RESPONSE


@ONE_BACKEND
@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", f"/v1/datasets/{HUGE}", None),
    ("GET", f"/v1/nowhere/{HUGE}", None),
    ("DELETE", f"/v1/datasets/{HUGE}/files", None),
    ("POST", "/v1/datasets", {"name": "cats", HUGE: 1}),
    ("POST", "/v1/jobs", {"type": HUGE}),
    ("POST", "/v1/jobs", {"type": "lora", "dataset_id": "d", "base_model": "b",
                          "hyperparameters": {"lr_scheduler": HUGE}}),
])
def test_no_error_repeats_huge_input_whole(client: TestClient, tenant: TenantCtx, method: str, path: str,
                                           body: object) -> None:
    response = client.request(method, path, json=body, headers=tenant.headers)
    assert 400 <= response.status_code < 500 and "..." in response.json()["detail"], response.text[:300]
    assert len(response.content) < SMALL_RESPONSE, response.text[:300]


def test_a_body_over_the_limit_is_refused_without_repeating_a_huge_path_whole() -> None:
    sent: list[dict[str, Any]] = []

    async def never_called(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the body limit let a refused request through")

    async def record(message: Any) -> None:
        sent.append(message)

    limit = BodySizeLimit(never_called, max_json_bytes=10, max_upload_bytes=10)
    scope = {"type": "http", "path": f"/v1/jobs/{HUGE}/cancel", "method": "POST",
             "headers": [(b"content-length", b"11")]}
    asyncio.run(limit(scope, None, record))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    problem = json.loads(sent[1]["body"])
    assert problem["instance"].endswith("...") and len(sent[1]["body"]) < SMALL_RESPONSE

"""Input that PostgreSQL cannot store or compare (a NUL character, an integer past its BIGINT, NaN)
is refused before it reaches the database, with a 422 naming the field, on both backends alike."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx

BIGINT_MAX = 2**63 - 1


def refused(response: Any, field: str) -> str:
    """The message of the 422's error for `field`."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    messages = [e["msg"] for e in response.json()["errors"] if e["loc"] == field]
    assert messages, f"no error names {field}: {response.text}"
    return str(messages[0])


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/datasets", {"name": "sha\u0000pes"}, "name"),
    ("/v1/datasets", {"name": "shapes", "description": "\u0000"}, "description"),
    ("/v1/endpoints", {"name": "e", "model": "sana-tiny", "pool": "g\u0000pu"}, "pool"),
    ("/v1/jobs", lora_job("ds\u0000"), "dataset_id"),
    ("/v1/jobs", lora_job("ds", hyperparameters={"validation_prompts": ["a cat", "a\u0000dog"]}),
     "hyperparameters.validation_prompts"),
])
def test_a_nul_in_a_body_string_is_refused_naming_the_field(
        client: TestClient, tenant: TenantCtx, path: str, body: dict[str, Any], field: str) -> None:
    message = refused(client.post(path, json=body, headers=tenant.headers), field)
    assert "NUL" in message, message
    assert client.get("/v1/datasets", headers=tenant.headers).json()["items"] == []


@pytest.mark.parametrize(("method", "url", "field"), [
    ("GET", "/v1/datasets/ds_%00", "path.dataset_id"),
    ("PATCH", "/v1/datasets/%00", "path.dataset_id"),
    ("GET", "/v1/jobs/job%00/events", "path.job_id"),
    ("GET", "/v1/jobs?dataset_id=ds%00", "query.dataset_id"),
    ("GET", "/v1/datasets?cursor=ds_%00", "query.cursor"),
    ("GET", "/v1/jobs/job_1/events?type=step&type=st%00ep", "query.type"),
])
def test_a_nul_in_a_path_id_query_parameter_or_cursor_is_refused_naming_it(
        client: TestClient, tenant: TenantCtx, method: str, url: str, field: str) -> None:
    message = refused(client.request(method, url, json={}, headers=tenant.headers), field)
    assert "NUL" in message, message


def test_events_after_takes_every_bigint_and_refuses_past_it(client: TestClient, tenant: TenantCtx) -> None:
    job = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=2))).json()["id"]
    last = client.get(f"/v1/jobs/{job}/events", params={"after": BIGINT_MAX}, headers=tenant.headers)
    assert last.status_code == 200 and last.json()["items"] == [], last.text
    message = refused(client.get(f"/v1/jobs/{job}/events", params={"after": BIGINT_MAX + 1}, headers=tenant.headers),
                      "query.after")
    assert f"{BIGINT_MAX}" in message, message


def test_nan_and_infinity_are_not_numbers(client: TestClient, admin_headers: dict[str, str]) -> None:
    """JSON has neither, but Python's parser takes them."""
    for spelling in ("NaN", "Infinity", "1e999"):
        response = client.post("/v1/admin/tenants", content=f'{{"name": "t", "fair_share_weight": {spelling}}}',
                               headers={**admin_headers, "Content-Type": "application/json"})
        refused(response, "fair_share_weight")


def test_a_body_that_is_not_utf8_is_invalid_json(client: TestClient, tenant: TenantCtx) -> None:
    response = client.post("/v1/datasets", content=b'{"name": "\xff"}',
                           headers={**tenant.headers, "Content-Type": "application/json"})
    assert refused(response, "body") == "request body is not valid JSON: not UTF-8"


def test_resolutions_are_bounded_in_the_schema_and_the_api(client: TestClient, tenant: TenantCtx) -> None:
    body = {"name": "e", "model": "sana-tiny", "defaults": {"resolution": 2**70}}
    assert "less than or equal to 8192" in refused(client.post("/v1/endpoints", json=body, headers=tenant.headers),
                                                   "defaults.resolution")

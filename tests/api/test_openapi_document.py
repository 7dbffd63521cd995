"""The OpenAPI document says what the API does: the problems each operation can answer with, in
`application/problem+json`; the key it needs; the bounds of every number it takes; the methods a
405 allows; what every success returns; operation ids that generated clients can name methods by.
(tests/api/test_schemathesis.py holds the API to it with generated requests, and
tests/api/test_openapi_snapshot.py makes each change to it a diff.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.backends import TenantCtx

ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)  # the document is the same
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
INT64 = (-(2**63), 2**63 - 1)


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


@ONE_BACKEND
def test_every_error_response_is_a_problem_and_authenticated_operations_say_so(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for name, operation in operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, (name, status)
        statuses = {int(status) for status in responses}
        if name.split()[1].startswith("/v1/"):
            assert operation["security"] == [{"bearer": []}], name
            assert {401, 403, 429, 503} <= statuses, name
            assert "Retry-After" in responses["429"]["headers"], name
        if "requestBody" in operation:
            assert {413, 422} <= statuses, name
        if "{" in name and "_id}" in name:
            assert 404 in statuses, name


@ONE_BACKEND
def test_every_success_but_a_204_has_a_schema(document: dict[str, Any]) -> None:
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                assert (schema is None) == (status == "204"), (name, status, response)


@ONE_BACKEND
def test_operation_ids_are_unique_and_read_as_resource_and_action(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in operations(document)]
    assert len(set(ids)) == len(ids), sorted(ids)
    assert not [i for i in ids if not re.fullmatch(r"[a-z]+(-[a-z]+)+", i)]
    assert {"jobs-create", "jobs-list", "jobs-get", "jobs-cancel", "datasets-upload-files",
            "admin-tenants-create", "keys-revoke", "health-readiness"} <= set(ids)


@ONE_BACKEND
def test_route_specific_problems_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "409" in paths["/v1/jobs/{job_id}/cancel"]["post"]["responses"]
    assert "409" in paths["/v1/datasets/{dataset_id}"]["delete"]["responses"]
    assert {"404", "409"} <= set(paths["/v1/jobs"]["post"]["responses"])
    assert "404" in paths["/v1/admin/tenants/{tenant_id}/quotas/{pool}"]["put"]["responses"]
    assert "404" not in paths["/v1/admin/pools/{pool}"]["put"]["responses"]  # it creates the pool


def integers(schema: Any, where: str, components: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, Any]]:
    """The integer schemas in `schema`, following references into the components."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "").rpartition("/")[2]
        if ref and ref not in seen:
            seen.add(ref)
            yield from integers(components[ref], ref, components, seen)
        if schema.get("type") == "integer" and "enum" not in schema:  # a choice of integers bounds itself
            yield where, schema
        for key, value in schema.items():
            yield from integers(value, f"{where}.{key}", components, seen)
    elif isinstance(schema, list):
        for value in schema:
            yield from integers(value, where, components, seen)


@ONE_BACKEND
def test_every_integer_the_api_takes_is_bounded_to_fit_a_bigint(document: dict[str, Any]) -> None:
    components, seen, checked = document["components"]["schemas"], set[str](), 0
    for name, operation in operations(document):
        taken = [operation.get("requestBody", {}), *operation.get("parameters", [])]
        for where, integer in integers(taken, name, components, seen):
            assert "maximum" in integer and "minimum" in integer, f"{where} is unbounded: {integer}"
            assert INT64[0] <= integer["minimum"] <= integer["maximum"] <= INT64[1], where
            checked += 1
    assert checked > 20


@ONE_BACKEND
def test_hyperparameter_bounds_are_in_the_schema(document: dict[str, Any]) -> None:
    hyperparameters = document["components"]["schemas"]["Hyperparameters"]["properties"]
    steps = next(option for option in hyperparameters["steps"]["anyOf"] if option.get("type") == "integer")
    assert (steps["minimum"], steps["maximum"]) == (1, 1_000_000)
    rate = next(option for option in hyperparameters["learning_rate"]["anyOf"] if option.get("type") == "number")
    assert (rate["minimum"], rate["maximum"]) == (1e-8, 1.0)


@ONE_BACKEND
def test_a_405_allows_every_method_of_the_path(client: TestClient, tenant: TenantCtx) -> None:
    response = client.request("PUT", "/v1/datasets/ds_1", headers=tenant.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    assert response.headers["content-type"] == "application/problem+json"

"""Schemathesis against the live API, on both backends: every operation of the OpenAPI document gets
generated input, valid and invalid (boundary values, NUL and odd unicode, huge numbers, wrong types,
unlisted methods), and must answer with a status and content type that the document lists for it,
a body that matches the documented schema, a 405 with the right `Allow`, a 401 without a key, and
never a 5xx.

Requests carry a tenant admin's key, or a platform admin's on /v1/admin, so that they get past
authentication; every other request of an operation with path ids goes to real objects, so that it
gets past the lookup too.

Not checked: that schema-valid input is accepted (the services refuse some with a 422 by rules the
schema cannot say: a known model family, an existing dataset) and that schema-invalid query input is
refused (FastAPI takes the last of a repeated parameter and reads a number as a Unix time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from sanacloud.api.app import create_app
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx, reset_caches


def body_string_fields(document: dict[str, Any]) -> set[str]:
    """The top-level string fields of the JSON request bodies."""
    components = document["components"]["schemas"]
    fields = set()
    for operation in (op for methods in document["paths"].values() for op in methods.values()):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        for variant in body.get("oneOf", [body]) if body else []:
            for name, prop in components[variant["$ref"].rpartition("/")[2]]["properties"].items():
                if any(option.get("type") == "string" for option in prop.get("anyOf", [prop])):
                    fields.add(name)
    return fields


def odd_input(document: dict[str, Any]) -> SchemathesisConfig:
    """Sometimes what PostgreSQL cannot store or compare: a NUL in a body's string (schemathesis never
    puts one in a path), an integer past BIGINT in a parameter."""
    sometimes = {"probability": 0.1}
    return SchemathesisConfig.from_dict({
        "dictionaries": {"nul": {"values": ["\x00", "a\x00b"]}, "bigint": {"values": [2**63, -(2**63) - 1]}},
        "generation": {"dictionaries": {"integer": {"dictionary": "bigint", **sometimes}}},
        "parameters": {f"body.{name}": {"dictionary": "nul", **sometimes} for name in body_string_fields(document)},
    })


APP = create_app()  # its document; each test sends its requests in-process (ASGI) to the app of its backend
reset_caches()
schema = schemathesis.openapi.from_dict(APP.openapi(), config=odd_input(APP.openapi()))
schema.app = APP
schema.config.phases.coverage.unexpected_methods = {"options", "trace"}  # OPTIONS tells the Allow header
WAITS_FOR_A_WORKER = "/v1/endpoints/{endpoint_id}/generate"  # there is none here


class RealIds:
    """Objects for path ids, each made on first use, through the API."""

    def __init__(self, client: TestClient, tenant: TenantCtx) -> None:
        self.client, self.tenant = client, tenant
        self.ids: dict[str, str] = {}
        self.requests = 0
        self.makers: dict[str, Callable[[], str]] = {
            "tenant_id": lambda: tenant.id,
            "pool": lambda: "gpu",
            "dataset_id": lambda: self.created("/v1/datasets", {"name": "fuzzed"}),
            "member_id": lambda: self.created("/v1/members", {"email": "fuzzed@example.com"}),
            "key_id": lambda: self.created("/v1/keys", {"name": "fuzzed"}),
            "endpoint_id": lambda: self.created("/v1/endpoints", {"name": "fuzzed", "model": "sana-tiny"}),
            "job_id": self.job,
        }

    def created(self, path: str, body: dict[str, Any]) -> str:
        response = self.client.post(path, json=body, headers=self.tenant.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def job(self) -> str:
        response = submit(self.client, self.tenant, lora_job(ready_dataset(self.client, self.tenant, images=2)))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def point_at_real_objects(self, case: Case) -> None:
        """Every other request of an operation; the others keep their generated ids."""
        self.requests += 1
        if self.requests % 2 or case.operation.path == WAITS_FOR_A_WORKER:
            return
        for name in (case.path_parameters or {}).keys() & self.makers.keys():
            if name not in self.ids:
                self.ids[name] = self.makers[name]()
            case.path_parameters[name] = self.ids[name]


@pytest.fixture
def unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of requests a second with one key: no rate limit (set before `client` makes the app)."""
    monkeypatch.setenv("SANACLOUD_RATE_LIMIT_BURST", "1000000")


@pytest.fixture
def real_ids(client: TestClient, tenant: TenantCtx) -> RealIds:
    return RealIds(client, tenant)


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_openapi_document_says(
        case: Case, unlimited: None, client: TestClient, tenant: TenantCtx, admin_headers: dict[str, str],
        real_ids: RealIds) -> None:
    real_ids.point_at_real_objects(case)
    headers = admin_headers if case.operation.path.startswith("/v1/admin") else tenant.headers
    case.call_and_validate(app=client.app, headers=headers,
                           excluded_checks=[positive_data_acceptance, negative_data_rejection])

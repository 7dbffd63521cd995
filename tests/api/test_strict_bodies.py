"""Request bodies are strict: a value of the wrong JSON type (`true` or `"100"` for a number, `1`
for a boolean) is a 422 naming the field and the type it takes, never silently converted. An
integer is a fine number, and 16.0 a fine integer (JSON has one number type).

The walk covers every JSON request body in the app's OpenAPI schema, so a new request model is
checked without being listed here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx

ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)  # validation is the same on both
PATH_IDS = {"pool": "strict-pool"}  # every other path parameter gets an id that does not exist
JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null", list: "array",
             dict: "object"}
EXPECTED = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
            "array": "a list", "object": "an object"}
STRING_CANDIDATES = ["a", "strict", "strict-name", "member@example.com"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: dict[str, Any]  # the object schema of the body (one variant of a union)
    admin: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class Schemas:
    def __init__(self, openapi: dict[str, Any]) -> None:
        self.components = openapi["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self.resolve(schema)
        return [b for option in schema["anyOf"] for b in self.branches(option)] if "anyOf" in schema else [schema]

    def types(self, schema: dict[str, Any]) -> set[str]:
        return {b.get("type", "object") for b in self.branches(schema)}

    def free_strings(self, schema: dict[str, Any]) -> bool:
        """Whether any string is of the accepted type (not only listed ones)."""
        return any(b.get("type") == "string" and "const" not in b and "enum" not in b for b in self.branches(schema))

    def valid_body(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = self.resolve(schema)
        return {name: self.valid_values(schema["properties"][name])[0] for name in schema.get("required", [])}

    def valid_values(self, schema: dict[str, Any]) -> list[Any]:
        """A value of each JSON type the field takes, in each JSON spelling of it (16 and 16.0)."""
        values: list[Any] = []
        for branch in self.branches(schema):
            values += _valid_scalars(branch) if branch.get("type") != "array" and "properties" not in branch \
                else self._valid_containers(branch)
        return values

    def _valid_containers(self, branch: dict[str, Any]) -> list[Any]:
        if "properties" in branch:
            return [self.valid_body(branch)]
        item = [self.valid_values(branch["items"])[0]]
        return [item] if branch.get("minItems", 0) else [[], item]

    def expected_words(self, schema: dict[str, Any]) -> list[str]:
        words = []
        for branch in self.branches(schema):
            if "const" in branch or "enum" in branch:
                words += [repr(value) for value in branch.get("enum", [branch.get("const")])]
            elif branch.get("type", "object") != "null":
                words.append(EXPECTED[branch.get("type", "object")])
        return words


def _valid_scalars(branch: dict[str, Any]) -> list[Any]:
    if "const" in branch or "enum" in branch:
        return [branch["const"]] if "const" in branch else list(branch["enum"])
    kind = branch.get("type")
    if kind == "boolean":
        return [True, False]
    if kind == "null":
        return [None]
    if kind == "integer":
        whole = int(_within(branch, 64))
        return [whole, float(whole)]
    if kind == "number":
        return [_within(branch, 0.5)] + ([1] if _within(branch, 1) == 1 else [])
    if branch.get("format") == "email":
        return ["member@example.com"]
    return [next(s for s in STRING_CANDIDATES if _fits(branch, s))]


def _within(branch: dict[str, Any], preferred: float) -> float:
    """`preferred`, moved inside the branch's bounds."""
    step = 1 if branch.get("type") == "integer" else 0.25
    low = max(branch.get("minimum", -math.inf), branch.get("exclusiveMinimum", -math.inf) + step)
    high = min(branch.get("maximum", math.inf), branch.get("exclusiveMaximum", math.inf) - step)
    return min(max(preferred, low), high)


def _fits(branch: dict[str, Any], text: str) -> bool:
    pattern = branch.get("pattern")
    return branch.get("minLength", 0) <= len(text) <= branch.get("maxLength", 10**9) and (
        pattern is None or re.search(pattern, text) is not None)


def wrong_values(schemas: Schemas, schema: dict[str, Any]) -> list[Any]:
    """Values of JSON types the field does not take; a numeric string is never a number."""
    types = schemas.types(schema)
    taken = types | ({"integer"} if "number" in types else set())
    wrong: list[Any] = [v for v in (True, 7, 7.5, "7", None, [], {}) if JSON_TYPE[type(v)] not in taken]
    if "7" not in wrong and not schemas.free_strings(schema):
        wrong.append("7")
    return wrong


def operations(openapi: dict[str, Any], schemas: Schemas) -> Iterator[Operation]:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = content["application/json"]["schema"]
            filled = re.sub(r"\{(\w+)\}", lambda m: PATH_IDS.get(m.group(1), f"{m.group(1)}_missing"), path)
            for variant in body.get("oneOf", [body]):
                yield Operation(method.upper(), filled, schemas.resolve(variant), path.startswith("/v1/admin"))


def fields(schemas: Schemas, schema: dict[str, Any], prefix: tuple[str, ...] = ()
           ) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, schema) of every property, nested objects' properties too."""
    for name, prop in schema.get("properties", {}).items():
        yield (*prefix, name), prop
        for branch in schemas.branches(prop):
            if "properties" in branch:
                yield from fields(schemas, branch, (*prefix, name))


def with_value(body: dict[str, Any], path: tuple[str, ...], value: Any, schemas: Schemas,
               schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` with `path` set, creating valid parents on the way."""
    copy = dict(body)
    if len(path) == 1:
        copy[path[0]] = value
        return copy
    parent_schema = next(b for b in schemas.branches(schema["properties"][path[0]]) if "properties" in b)
    parent = copy.get(path[0]) or schemas.valid_body(parent_schema)
    copy[path[0]] = with_value(parent, path[1:], value, schemas, parent_schema)
    return copy


@ONE_BACKEND
def test_every_request_body_refuses_wrong_types_and_takes_every_valid_json_form(
        client: TestClient, tenant: TenantCtx, admin_headers: dict[str, str]) -> None:
    openapi = client.get("/openapi.json").json()
    schemas = Schemas(openapi)
    checked = 0
    for operation in operations(openapi, schemas):
        headers = admin_headers if operation.admin else tenant.headers
        base = schemas.valid_body(operation.body)

        def send(body: Any, op: Operation = operation, headers: dict[str, str] = headers) -> tuple[int, Any]:
            response = client.request(op.method, op.path, json=body, headers=headers)
            return response.status_code, response.json() if response.content else None

        status, problem = send([])
        assert status == 422 and problem["errors"][0]["loc"] == "body", (str(operation), problem)
        for path, prop in fields(schemas, operation.body):
            where = ".".join(path)
            for value in schemas.valid_values(prop):
                status, problem = send(with_value(base, path, value, schemas, operation.body))
                validation_error = status == 422 and "errors" in (problem or {})
                assert not validation_error and status < 500, f"{operation} refused {where}={value!r}: {problem}"
            for value in wrong_values(schemas, prop):
                status, problem = send(with_value(base, path, value, schemas, operation.body))
                assert status == 422, f"{operation} took {where}={value!r}: {problem}"
                message = next((e["msg"] for e in problem.get("errors", []) if e["loc"] == where), None)
                assert message is not None, f"{operation} {where}={value!r}: no error names the field: {problem}"
                assert message.startswith(f"{where}: expected "), message
                missing = [w for w in schemas.expected_words(prop) if w not in message]
                assert not missing, f"{operation} {where}={value!r}: {message!r} does not say {missing}"
                checked += 1
            if "array" in schemas.types(prop):
                item_schema = next(b for b in schemas.branches(prop) if b.get("type") == "array")["items"]
                for value in wrong_values(schemas, item_schema):
                    status, problem = send(with_value(base, path, [value], schemas, operation.body))
                    messages = [e["msg"] for e in problem.get("errors", []) if e["loc"] == f"{where}.0"]
                    assert status == 422 and messages, f"{operation} took {where}=[{value!r}]: {problem}"
                    checked += 1
    assert checked > 300  # every body was walked


@pytest.fixture
def dataset(client: TestClient, tenant: TenantCtx) -> str:
    return ready_dataset(client, tenant, images=2)


def jobs_of(client: TestClient, tenant: TenantCtx) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", headers=tenant.headers).json()["items"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"hyperparameters": {"steps": True}}, "hyperparameters.steps: expected an integer or 'auto', got true"),
    ({"hyperparameters": {"steps": "100"}}, "hyperparameters.steps: expected an integer or 'auto', got \"100\""),
    ({"hyperparameters": {"steps": 100.5}}, "hyperparameters.steps: expected an integer or 'auto', got 100.5"),
    ({"lora": {"rank": "16"}}, "lora.rank: expected an integer, got \"16\""),
    ({"hyperparameters": {"gradient_checkpointing": 1}},
     "hyperparameters.gradient_checkpointing: expected true or false, got 1"),
    ({"hyperparameters": {"lr_scheduler": "exp"}},
     "hyperparameters.lr_scheduler: expected 'constant', 'linear' or 'cosine', got \"exp\""),
    ({"type": "dreambooth"}, "type: expected one of 'lora', 'full', got \"dreambooth\""),
])
@ONE_BACKEND
def test_a_job_with_a_wrongly_typed_value_is_refused_with_the_field_and_its_type(
        client: TestClient, tenant: TenantCtx, dataset: str, overrides: dict[str, Any], message: str) -> None:
    response = submit(client, tenant, lora_job(dataset, **overrides))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == message
    assert jobs_of(client, tenant) == []


@ONE_BACKEND
def test_whole_numbers_count_as_integers_and_integers_as_numbers(
        client: TestClient, tenant: TenantCtx, dataset: str) -> None:
    response = submit(client, tenant, lora_job(dataset, lora={"rank": 8.0, "alpha": 8}, gpus=1.0, hyperparameters={
        "steps": 100.0, "learning_rate": 1, "caption_dropout": 0}))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["hyperparameters"]["steps"] == 100 and job["hyperparameters"]["lora"]["rank"] == 8
    assert type(job["hyperparameters"]["steps"]) is int and job["gpus"] == 1
    assert job["hyperparameters"]["learning_rate"] == 1.0

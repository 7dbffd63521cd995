"""The SDK agrees with the live API's OpenAPI document (`create_app().openapi()`), so that a route or a
field added, renamed or retyped on one side fails here until the other follows:

- the SDK's operation table is exactly the API's operations (id, method, path), and every operation
  has an SDK method that declares it;
- each SDK method takes every body field, query and path parameter of its operation by name;
- each SDK model has its schema's fields, with the same required-ness and basic types.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from sanacloud.api.app import create_app
from sanacloud.client import Client
from sanacloud.client._operations import OPERATIONS
from sanacloud.client._resource import Method, Resource
from sanacloud.client.models import BOUND_MODELS, APIModel
from tests.helpers.backends import reset_caches

# Parameters an SDK method takes differently from the API, and why.
NOT_TAKEN = {
    ("endpoints-generate", "timeout_s"): "the SDK sets it from its own `timeout`, below its HTTP timeout",
    ("jobs-create", "idempotency-key"): "taken as `idempotency_key` (a header's name is no identifier)",
    ("datasets-caption", "idempotency-key"): "taken as `idempotency_key`",
}
PAGED_BY_THE_SDK = {"cursor"}  # pages follow it themselves
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array",
              datetime: "string", types.NoneType: "null"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SANACLOUD_DATA_DIR", str(tmp_path_factory.mktemp("openapi")))
        reset_caches()
        yield create_app().openapi()
    reset_caches()


def api_operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {op["operationId"]: (method.upper(), path, op) for path, methods in document["paths"].items()
            for method, op in methods.items()}


def sdk_methods() -> dict[str, Method]:
    """Every resource method of the client's tree, by the operation ids it declares."""
    client = Client("http://127.0.0.1:9", "unused")
    found: dict[str, Method] = {}
    pending: list[Resource[Any]] = [client]
    while pending:
        resource = pending.pop()
        for attribute in _class_attributes(type(resource)):
            if isinstance(attribute, Method):
                for operation_id in attribute.operation_ids:
                    assert operation_id not in found, f"two SDK methods declare {operation_id}"
                    found[operation_id] = attribute
        pending.extend(value for value in vars(resource).values() if isinstance(value, Resource))
    client.close()
    return found


def _class_attributes(cls: type) -> list[Any]:
    return [value for klass in cls.__mro__ for value in vars(klass).values()]


def test_the_sdk_calls_exactly_the_apis_operations(document: dict[str, Any]) -> None:
    api = {op_id: (method, path) for op_id, (method, path, _op) in api_operations(document).items()}
    assert api == OPERATIONS, {"only in the API": sorted(api.keys() - OPERATIONS.keys()),
                               "only in the SDK": sorted(OPERATIONS.keys() - api.keys()),
                               "moved": sorted(k for k in api.keys() & OPERATIONS.keys() if api[k] != OPERATIONS[k])}


def test_every_operation_has_an_sdk_method(document: dict[str, Any]) -> None:
    declared = sdk_methods()
    assert sorted(api_operations(document).keys() - declared.keys()) == [], "routes without an SDK method"
    assert sorted(declared.keys() - api_operations(document).keys()) == [], "SDK methods of no route"


def test_each_method_takes_its_operations_fields_by_name(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    missing = []
    for operation_id, method in sdk_methods().items():
        _method, _path, op = api_operations(document)[operation_id]
        wanted = {p["name"] for p in op.get("parameters", [])} - PAGED_BY_THE_SDK
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        for variant in (body or {}).get("oneOf", [body] if body else []):
            wanted |= set(schemas[variant["$ref"].rsplit("/", 1)[1]]["properties"])
        taken = set(inspect.signature(method.build).parameters) - {"self"}
        missing += [f"{operation_id}: {name}" for name in sorted(wanted - taken)
                    if (operation_id, name) not in NOT_TAKEN]
    assert missing == []


def schema_types(schema: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows, a `$ref` standing as its schema's name."""
    if "$ref" in schema:
        return {schema["$ref"].rsplit("/", 1)[1]}
    if "anyOf" in schema:
        return set().union(*(schema_types(s, schemas) for s in schema["anyOf"]))
    if schema.get("type") == "array":
        return {f"array of {'/'.join(sorted(schema_types(schema.get('items', {}), schemas))) or 'any'}"}
    if "type" in schema:
        return {schema["type"]}
    if "const" in schema:
        return {JSON_TYPES[type(schema["const"])]}
    return {"any"}


def annotation_types(annotation: Any) -> set[str]:
    """What the API's document would say of a field of this type."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        return set().union(*(annotation_types(arg) for arg in typing.get_args(annotation)))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return {f"array of {'/'.join(sorted(annotation_types(item)))}"}
    if origin is dict:
        return {"object"}
    if isinstance(annotation, type) and issubclass(annotation, APIModel):
        return {annotation.schema_name}
    if annotation is typing.Any:
        return {"any"}
    return {JSON_TYPES[annotation]}


@pytest.mark.parametrize("model", BOUND_MODELS, ids=lambda model: model.__name__)
def test_each_model_has_its_schemas_fields_and_types(model: type[APIModel], document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert model.schema_name in schemas, f"{model.__name__} mirrors {model.schema_name}, which the API no longer has"
    schema = schemas[model.schema_name]
    properties = schema.get("properties", {})
    fields = model.model_fields
    assert set(fields) == set(properties), {"only in the API": sorted(set(properties) - set(fields)),
                                            "only in the SDK": sorted(set(fields) - set(properties))}
    required = {name for name in fields if fields[name].is_required()}
    assert required == set(schema.get("required", [])), f"{model.__name__}'s required fields differ"
    for name, field in fields.items():
        api_types = schema_types(properties[name], schemas)
        sdk_types = annotation_types(field.annotation)
        assert api_types == sdk_types, (
            f"{model.__name__}.{name}: the API says {sorted(api_types)}, the SDK {sorted(sdk_types)}")


def test_the_contract_fails_when_the_api_adds_a_field(document: dict[str, Any]) -> None:
    """The model check above can fail: a field the API adds to JobOut is one the SDK does not know."""
    grown = {**document, "components": {"schemas": {**document["components"]["schemas"]}}}
    job = dict(grown["components"]["schemas"]["JobOut"])
    job["properties"] = {**job["properties"], "eta_s": {"type": "integer"}}
    grown["components"]["schemas"]["JobOut"] = job
    from sanacloud.client.models import Job

    with pytest.raises(AssertionError, match="eta_s"):
        test_each_model_has_its_schemas_fields_and_types(Job, grown)


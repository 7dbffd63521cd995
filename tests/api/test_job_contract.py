"""A job the API accepts is one the trainer runs: every request its schema allows, once resolved
against a base model, is a TrainSpec (which refuses unknown fields) that keeps each value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from sanacloud.api.jobs.hyperparameters import resolve
from sanacloud.api.jobs.schemas import FullJobCreate, LoraJobCreate
from sanacloud.model.registry import REGISTRY
from sanacloud.model.train.spec import TrainSpec
from sanacloud.platform.catalog import FAMILIES, BaseModelFamily
from sanacloud.platform.errors import InvalidInput


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a JSON schema as pydantic writes one: each choice, and numbers within their bounds."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if kind == "object":
        required = set(schema.get("required", ()))
        fields = {name: from_schema(value, defs) for name, value in schema["properties"].items()}
        return st.fixed_dictionaries({name: field for name, field in fields.items() if name in required},
                                     optional={name: field for name, field in fields.items() if name not in required})
    if kind == "array":
        return st.lists(from_schema(schema["items"], defs), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems"))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum", schema.get("exclusiveMinimum")),
                         schema.get("maximum", schema.get("exclusiveMaximum")), allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength"))
    return {"boolean": st.booleans(), "null": st.none()}[kind]


def requests(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    schema = model.model_json_schema()
    return from_schema(schema, schema.get("$defs", {})).map(lambda body: (model, body))


@settings(max_examples=400, deadline=None)
@given(request=st.one_of(requests(LoraJobCreate), requests(FullJobCreate)),
       family=st.sampled_from(list(FAMILIES.values())), image_count=st.integers(1, 100_000),
       captions=st.lists(st.text(max_size=40), max_size=6), on_cpu=st.booleans())
def test_every_resolved_request_is_a_train_spec(request: tuple[type[BaseModel], dict[str, Any]],
                                                family: BaseModelFamily, image_count: int, captions: list[str],
                                                on_cpu: bool) -> None:
    model, body = request
    try:
        job = model.model_validate(body)
        assert isinstance(job, LoraJobCreate | FullJobCreate)
        resolved = resolve(job, family, image_count=image_count, captions=captions, on_cpu=on_cpu)
    except (ValidationError, InvalidInput):
        reject()  # the API refuses it: no trainer sees it
    spec = TrainSpec(**resolved, model=family.name, model_path=Path("base"), data_dir=Path("data"),
                     output_dir=Path("out"), type=job.type)
    # the worker adds the paths: prior preservation's uploaded class images too
    assert spec.model_dump(include=set(resolved), exclude={"prior": {"class_data_dir"}}) == resolved


def test_the_platform_offers_every_registry_model_at_its_native_resolution() -> None:
    assert set(FAMILIES) == set(REGISTRY)
    for name, family in FAMILIES.items():
        assert family.spec.resolution in family.resolutions, name

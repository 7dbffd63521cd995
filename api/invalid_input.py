"""FastAPI's validation errors as one line per field, named as the client wrote it:

    hyperparameters.steps: expected an integer or 'auto', got "100"
    lora.rank: Input should be less than or equal to 256
    unknown field 'colour'; remove it or check its spelling

Pydantic's error locations also hold labels that are not fields: the tag of a discriminated union
(`lora`) and the member of a plain union that failed (`int`, `literal['auto']`). Walking the
location through the request body tells them apart; the errors of all members of one union
become one line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from sanacloud.api.schemas import NUL, NUL_REFUSED
from sanacloud.platform.errors import echo, shortened

EXPECTED = {"int_type": "an integer", "int_from_float": "an integer", "float_type": "a number",
            "string_type": "a string", "bool_type": "true or false", "list_type": "a list", "dict_type": "an object",
            "model_type": "an object", "model_attributes_type": "an object", "none_required": "null"}
TAG_FIELD = "type"  # the API's discriminated unions (e.g. a job's lora | full) tag by this field
SHOWN_CHARS = 40
NOT_JSON = "request body is not valid JSON"


def refuse_nul(request: Request) -> None:
    """A dependency of every route: no path or query parameter holds a NUL (see `RequestModel` for bodies)."""
    errors = [{"type": "string_nul", "loc": (where, name), "msg": NUL_REFUSED, "input": value}
              for where, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items()))
              for name, value in items if isinstance(value, str) and NUL in value]
    if errors:
        raise RequestValidationError(errors)


def describe(errors: Sequence[Any], body: Any) -> list[dict[str, str]]:
    """One {"loc", "msg"} per field that failed, in pydantic's order."""
    by_field: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        by_field.setdefault(_where(error, body), []).append(error)
    return [{"loc": shortened(where), "msg": _message(where, group)} for where, group in by_field.items()]


def _where(error: dict[str, Any], body: Any) -> str:
    loc = tuple(error.get("loc", ()))
    if not loc or loc[0] != "body":  # query, path or header parameters: named as they are
        return ".".join(str(part) for part in loc) or "request"
    kind = error.get("type")
    path = _field_path(loc[1:], body, missing=kind == "missing")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        path.append(str(error.get("ctx", {}).get("discriminator", TAG_FIELD)).strip("'"))
    return ".".join(str(part) for part in path) or "body"


def _field_path(loc: tuple[Any, ...], body: Any, *, missing: bool) -> list[Any]:
    path: list[Any] = []
    here, tag_skipped = body, False
    for i, part in enumerate(loc):
        if isinstance(here, dict) and not tag_skipped and isinstance(part, str) and part == here.get(TAG_FIELD):
            tag_skipped = True
        elif (isinstance(here, dict) and part in here) or (isinstance(here, list) and _index_of(part, here)):
            path.append(part)
            here, tag_skipped = here[part], False
        elif missing and i == len(loc) - 1:
            path.append(part)
        # else: the label of a union member ('int', "literal['auto']"), not a field
    return path


def _index_of(part: Any, items: list[Any]) -> bool:
    return isinstance(part, int) and 0 <= part < len(items)


def _message(where: str, group: list[dict[str, Any]]) -> str:
    first = group[0]
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        parent, _, field = where.rpartition(".")
        return f"unknown field {echo(field)}{f' in {parent}' if parent else ''}; remove it or check its spelling"
    if kind == "missing":
        return f"{where}: field required"
    if kind == "json_invalid":
        return NOT_JSON
    if kind == "union_tag_invalid":  # the input is the object holding the tag
        given = first["input"].get(where.rpartition(".")[2])
        return f"{where}: expected one of {first['ctx']['expected_tags']}, got {_shown(given)}"
    if kind == "union_tag_not_found":
        return f"{where}: field required"
    wrong_value = [e for e in group if e.get("type") not in EXPECTED and e.get("type") != "literal_error"]
    if wrong_value:  # one union member took the type but not the value: that member's complaint
        return f"{where}: {str(wrong_value[0].get('msg', 'invalid value')).removeprefix('Value error, ')}"
    expected = list(dict.fromkeys(_expected(e) for e in group))
    listed = " or ".join(expected) if len(expected) < 3 else ", ".join(expected[:-1]) + " or " + expected[-1]
    return f"{where}: expected {listed}, got {_shown(first.get('input'))}"


def _expected(error: dict[str, Any]) -> str:
    if error.get("type") == "literal_error":
        return str(error.get("ctx", {}).get("expected", "one of the listed values"))
    return EXPECTED[str(error.get("type"))]


def _shown(value: Any) -> str:
    """The value as JSON, e.g. "100" or true; an object or list only by its kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, default=str)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."

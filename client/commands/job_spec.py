"""What `jobs create` sends: a `--spec` JSON file in the API's own shape, with the flags given over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TOP_LEVEL = ("dataset_id", "base_model", "type", "name", "pool", "gpus", "priority", "hyperparameters", "lora",
             "deepspeed")
SECTIONS = ("hyperparameters", "lora", "deepspeed")


class SpecProblem(Exception):
    """The spec file cannot be used; the message says why."""


def read_spec(path: Path | None) -> dict[str, Any]:
    """The file's request body: the fields of `POST /v1/jobs`, as the API documents them."""
    if path is None:
        return {}
    try:
        spec = json.loads(path.read_text())
    except OSError as error:
        raise SpecProblem(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise SpecProblem(f"{path} is not JSON: {error}") from None
    if not isinstance(spec, dict):
        raise SpecProblem(f"{path} must hold one JSON object, the body of POST /v1/jobs")
    unknown = sorted(set(spec) - set(TOP_LEVEL))
    if unknown:
        raise SpecProblem(f"{path}: unknown field(s) {', '.join(unknown)}; a spec has {', '.join(TOP_LEVEL)} "
                          "(trainer settings go in 'hyperparameters')")
    for section in SECTIONS:
        if not isinstance(spec.get(section, {}), dict):
            raise SpecProblem(f"{path}: '{section}' must be an object")
    return spec


def merged(spec: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """`flags` (top-level and per-section fields; None: not given) over `spec`."""
    body = {name: value for name, value in spec.items() if name not in SECTIONS}
    body.update({name: value for name, value in flags.items() if name not in SECTIONS and value is not None})
    for section in SECTIONS:
        fields = {**spec.get(section, {}), **{k: v for k, v in flags.get(section, {}).items() if v is not None}}
        if fields:
            body[section] = fields
    return body

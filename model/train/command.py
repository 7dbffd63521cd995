"""A child's command line, shared by the trainer and the captioner: `--spec spec.json` validated
into its spec, then the run; every failure is a last `error` event the platform reads to tell the
user why. Exit 0 done, 1 the run failed, 2 the spec is invalid."""

from __future__ import annotations

import argparse
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from sanacloud.model.train.events import RunFailed, emit

S = TypeVar("S", bound=BaseModel)


def spec_command(prog: str, description: str | None, spec_type: type[S], run: Callable[[S], None],
                 argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--spec", type=Path, required=True, help=f"the {spec_type.__name__} JSON file")
    args = parser.parse_args(argv)
    try:
        spec = spec_type.model_validate(json.loads(args.spec.read_text()))
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        emit("error", message=f"invalid spec {args.spec}: {error}")
        return 2
    try:
        run(spec)
    except RunFailed as error:
        emit("error", message=str(error), **error.fields)
        return 1
    except Exception as error:
        emit("error", message=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
        return 1
    return 0

"""`python -m sanacloud.model.captioning --spec spec.json`: one captioning run, events as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from pydantic import ValidationError

from sanacloud.model.captioning.run import CaptionSpec, run
from sanacloud.model.train.events import emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sanacloud.model.captioning", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help="the CaptionSpec JSON file")
    args = parser.parse_args(argv)
    try:
        spec = CaptionSpec.model_validate(json.loads(args.spec.read_text()))
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        emit("error", message=f"invalid spec {args.spec}: {error}")
        return 2
    try:
        run(spec)
    except Exception as error:  # the platform reads the last event to tell the user why
        emit("error", message=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How every benchmark reports: one JSON object per measurement on stdout, and appended to
`$OUT/results.jsonl` when OUT is set (the device machine's output folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def emit(**fields: object) -> None:
    line = json.dumps(fields)
    print(line, flush=True)
    if os.environ.get("OUT"):
        with open(Path(os.environ["OUT"]) / "results.jsonl", "a") as out:
            out.write(line + "\n")

"""The trainer's progress as JSON lines on stdout: one object per event, `type` first.

Types: start, cache, class_images (prior preservation), step, checkpoint, sample, stopped, done,
warning, error. Only rank 0 writes. The captioning child (sanacloud.model.captioning) speaks the
same way. A field that is a non-finite float (a diverged loss) is written as null: the lines stay
strict JSON, which a database's JSON column takes.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class RunFailed(Exception):
    """A failure the run explains itself: its `error` event carries the message and these fields."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


def emit(type: str, **fields: Any) -> None:
    if is_main_process():
        finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in fields.items()}
        sys.stdout.write(json.dumps({"type": type, "time": round(time.time(), 3), **finite}) + "\n")
        sys.stdout.flush()

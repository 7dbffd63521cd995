"""The trainer's progress as JSON lines on stdout: one object per event, `type` first.

Types: start, cache, class_images (prior preservation), step, checkpoint, sample, stopped, done,
error. Only rank 0 writes. The captioning child (sanacloud.model.captioning) speaks the same way.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def emit(type: str, **fields: Any) -> None:
    if is_main_process():
        sys.stdout.write(json.dumps({"type": type, "time": round(time.time(), 3), **fields}) + "\n")
        sys.stdout.flush()

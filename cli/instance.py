"""The record a running `sanacloud up` leaves, so that other commands can find its data dir.

One small JSON file per running `up` (its data dir, URL and pid) in the user's state folder,
`$XDG_STATE_HOME/sanacloud/running/` (default `~/.local/state`), removed when `up` stops. A
record whose process is gone (an `up` that was killed) is ignored and cleaned away.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningUp:
    data_dir: Path
    url: str
    pid: int


def records_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "sanacloud" / "running"


@contextmanager
def recorded(running: RunningUp) -> Iterator[None]:
    """Keeps the record of `running` for as long as the block runs."""
    path = records_dir() / f"{running.pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")  # renamed into place whole: readers never see half a record
    partial.write_text(json.dumps({"data_dir": str(running.data_dir), "url": running.url, "pid": running.pid}))
    partial.replace(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def find_running() -> list[RunningUp]:
    found = []
    for path in sorted(records_dir().glob("*.json")):
        try:
            saved = json.loads(path.read_text())
            running = RunningUp(Path(saved["data_dir"]), str(saved["url"]), int(saved["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # removed meanwhile, or not a record `up` wrote
        if _alive(running.pid):
            found.append(running)
        else:
            path.unlink(missing_ok=True)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Waiting in tests: on a condition, never a fixed sleep, with deadlines one setting scales.

`SANACLOUD_TEST_TIME_SCALE` (default 1) multiplies every deadline here and pytest-timeout's
per-test limit (tests/conftest.py), so the suite can run on a busy or slow machine:

    SANACLOUD_TEST_TIME_SCALE=3 scripts/test.sh

Base deadlines are set for an idle 2-core machine with room to spare; a failure says what it
was waiting for and what it saw last.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
SCALE_VARIABLE = "SANACLOUD_TEST_TIME_SCALE"


def time_scale() -> float:
    raw = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE} must be a number, not {raw!r}") from None
    if scale <= 0:
        raise ValueError(f"{SCALE_VARIABLE} must be positive, not {raw!r}")
    return scale


def scaled(seconds: float) -> float:
    """A deadline of `seconds` on an idle machine, stretched by the time scale."""
    return seconds * time_scale()


class Deadline:
    """`scaled(seconds)` from now; `check(what)` fails the test once it has passed."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = scaled(seconds), what
        self.ends = time.monotonic() + self.seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.ends

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def check(self, last_seen: object = None) -> None:
        if self.passed:
            raise AssertionError(timed_out(self.seconds, self.what, last_seen))


def wait_until(condition: Callable[[], T | None], *, what: str, timeout_s: float, every_s: float = 0.2,
               describe: Callable[[], object] | None = None) -> T:
    """Call `condition` until it returns something truthy (returned), for up to scaled `timeout_s`.

    On timeout the error names `what` was awaited and, when given, `describe()`'s view of the
    state (e.g. the job as the API shows it, or a log tail).
    """
    deadline = Deadline(timeout_s, what)
    while True:
        result = condition()
        if result:
            return result
        if deadline.passed:
            raise AssertionError(timed_out(deadline.seconds, what, describe() if describe else None))
        time.sleep(every_s)


def timed_out(seconds: float, what: str, last_seen: object = None) -> str:
    message = f"timed out after {seconds:.0f} s waiting for {what}"
    if last_seen is not None:
        message += f"; last seen: {last_seen}"
    return f"{message} (slow machine? raise {SCALE_VARIABLE})"

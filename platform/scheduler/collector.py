"""Cyclic garbage collection held off while a tick plans a long queue.

A tick keeps a few objects per queued job alive until it ends (the policy's `Waiting` and `Wait`):
with 10,000 jobs, tens of thousands of tracked objects that outlive the collector's young
generations, so it promotes them to the oldest and then runs a full collection of the whole process
(40-50 ms in the benchmark's process, more in a server's) every tick or two. They hold no reference
cycles and are freed by reference counting when the tick ends, so those collections find nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_ticks = 0  # ticks in progress in this process (one per thread at most)
_disabled_here = False  # whether the first of them disabled the collector (not someone else)


@contextmanager
def collection_deferred() -> Iterator[None]:
    """Disable automatic collection for the block. The collector has no per-thread switch: the first of
    overlapping blocks disables it, the last enables it again; a collector found disabled stays so."""
    global _ticks, _disabled_here
    with _lock:
        if _ticks == 0 and gc.isenabled():
            gc.disable()
            _disabled_here = True
        _ticks += 1
    try:
        yield
    finally:
        with _lock:
            _ticks -= 1
            if _ticks == 0 and _disabled_here:
                gc.enable()
                _disabled_here = False

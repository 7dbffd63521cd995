"""Why an attempt must stop, as the heartbeat thread or the relay loop learns it.

A preemption, a pause or an extension asks the trainer to checkpoint first (SIGTERM, within the
stop grace). A cancel
needs no checkpoint and a lost job may not write one, so either kills the trainer at once, from
whichever thread learns of it, and sets `now`, which aborts any transfer in progress: neither
a busy trainer nor a checkpoint upload delays the stop.
"""

from __future__ import annotations

import threading
from typing import Protocol

from sanacloud.platform.jobs.lifecycle import Signal

AT_ONCE = (Signal.CANCEL, Signal.LOST)
# A stronger reason replaces a weaker one (a cancel during a preemption's checkpoint), never the reverse.
STRENGTH = {Signal.CONTINUE: 0, Signal.EXTEND: 1, Signal.PREEMPT: 2, Signal.PAUSE: 3, Signal.CANCEL: 4,
            Signal.LOST: 5}


class Killable(Protocol):
    def kill(self) -> None: ...


class StopRequest:
    def __init__(self) -> None:
        self.signal: Signal | None = None
        self.now = threading.Event()
        self._trainer: Killable | None = None
        self._lock = threading.Lock()

    def learn(self, signal: Signal) -> None:
        with self._lock:
            if STRENGTH[signal] <= STRENGTH[self.signal or Signal.CONTINUE]:
                return
            self.signal = signal
            if signal in AT_ONCE:
                self.now.set()
                if self._trainer is not None:
                    self._trainer.kill()

    def attach(self, trainer: Killable) -> None:
        """The trainer to kill on a cancel or loss (at once, when one came while it was starting)."""
        with self._lock:
            self._trainer = trainer
            if self.now.is_set():
                trainer.kill()

    @property
    def cancelled(self) -> bool:
        return self.signal is Signal.CANCEL

    @property
    def lost(self) -> bool:
        return self.signal is Signal.LOST

"""Child processes that do not outlive their parent."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn`: Linux sends the child `sig` when its parent dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    def arrange() -> None:
        if sys.platform == "linux":
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)

    return arrange

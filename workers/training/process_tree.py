"""Killing a process and everything it started, including children in sessions of their own.

torchrun starts each rank with `start_new_session`, so SIGKILL to the launcher's process group
leaves the ranks running (training on, holding their GPUs and the stdout pipe open). Here the
tree is frozen first (a stopped process cannot fork), then listed through /proc, then killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def kill_tree(root: int) -> None:
    """SIGKILL `root`'s process group and every descendant of `root`."""
    _send_group(root, signal.SIGSTOP)
    frozen: set[int] = set()
    while fresh := descendants(root) - frozen:  # until nothing new appears: all forkers are stopped
        for pid in fresh:
            _send(pid, signal.SIGSTOP)
        frozen |= fresh
    _send_group(root, signal.SIGKILL)
    for pid in frozen:
        _send(pid, signal.SIGKILL)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process on this machine."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def _send(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _send_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)

"""The trainer as a child process: its JSON-lines events, and stopping it (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sanacloud.platform.processes import die_with_parent
from sanacloud.workers.training.process_tree import kill_tree

EOF_MARK = None


@dataclass(frozen=True)
class Rendezvous:
    """Where the nodes of a run across several meet: torchrun's static rendezvous at node 0."""

    nodes: int
    node_rank: int
    host: str
    port: int

    def torchrun_args(self) -> list[str]:
        return [f"--nnodes={self.nodes}", f"--node_rank={self.node_rank}", f"--master_addr={self.host}",
                f"--master_port={self.port}"]


class TrainerProcess:
    """`python -m sanacloud.model.train` (or under torchrun), in its own process group.

    stdout is read on a thread so that the worker's loop can wait for an event with a timeout and
    still send heartbeats; stderr goes to a file whose tail explains a crash.
    """

    def __init__(self, argv: list[str], *, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env,
            start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL))
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._term_sent_at: float | None = None

    @classmethod
    def for_spec(cls, spec_path: Path, *, processes: int, stderr_path: Path, stop_grace_s: float,
                 rendezvous: Rendezvous | None = None, module: str = "sanacloud.model.train") -> TrainerProcess:
        """The trainer (or another child that speaks its events, e.g. the captioner) on `spec_path`,
        under torchrun when it takes several processes (`processes` on this node; with a rendezvous,
        as one node of several)."""
        launcher = launcher_argv(processes, rendezvous, stop_grace_s=stop_grace_s)
        return cls([*launcher, "-m", module, "--spec", str(spec_path)], stderr_path=stderr_path)

    def running(self) -> bool:
        return self.process.poll() is None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(EOF_MARK)

    def events(self, poll_s: float) -> Iterator[dict[str, Any] | None]:
        """Each event the trainer prints, or None after `poll_s` without one; ends when stdout closes."""
        while True:
            try:
                line = self._lines.get(timeout=poll_s)
            except queue.Empty:
                yield None
                continue
            if line is EOF_MARK:
                return
            event = _parse(line)
            if event is not None:
                yield event

    def stop(self, grace_s: float) -> None:
        """SIGTERM the process group now (the trainer checkpoints and exits; torchrun passes it on to
        the ranks); kill everything once `grace_s` has passed (call again to check)."""
        now = time.monotonic()
        if self._term_sent_at is None:
            self._term_sent_at = now
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(self.process.pid, signal.SIGTERM)
        elif now - self._term_sent_at >= grace_s:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the trainer and every process it started (torchrun's ranks too), from any thread."""
        if self.process.poll() is None:  # a reaped pid may already belong to another process
            kill_tree(self.process.pid)

    def wait(self) -> int:
        code = self.process.wait()
        self._stderr.close()
        return code

    def stderr_tail(self, chars: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def launcher_argv(processes: int, rendezvous: Rendezvous | None, *, stop_grace_s: float) -> list[str]:
    """torchrun SIGKILLs its ranks this long after it passes them a SIGTERM (30 s unless told): the
    stop grace, so that a big checkpoint is written whole."""
    if rendezvous is None and processes == 1:
        return [sys.executable]
    torchrun = [sys.executable, "-m", "torch.distributed.run", f"--shutdown_timeout={math.ceil(stop_grace_s)}"]
    meeting = rendezvous.torchrun_args() if rendezvous is not None else ["--standalone"]
    return [*torchrun, *meeting, f"--nproc_per_node={processes}"]


def _parse(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("type"), str) else None

"""The Celery processes `sanacloud up` runs beside the API, each writing to its own log file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sanacloud.platform.processes import die_with_parent

# Housekeeping (the scheduler's tick) must not wait behind a training run: two workers.
PROCESSES = {
    "maintenance worker": ("worker", "--queues", "maintenance", "--concurrency", "1"),
    "gpu worker": ("worker", "--queues", "train.local,infer.local", "--pool", "solo", "--hostname", "gpu@%h"),
    "beat": ("beat",),
}
WORKER_READY = " ready."  # what a Celery worker logs once it consumes its queues


@dataclass(frozen=True)
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    log_start: int  # where this run's lines begin in the log

    @property
    def is_worker(self) -> bool:
        return PROCESSES[self.name][0] == "worker"

    def ready(self) -> bool:
        with self.log.open("rb") as log:
            log.seek(self.log_start)
            return WORKER_READY.encode() in log.read()


def start_all(logs: Path) -> list[Child]:
    return [_start(name, args, logs / f"{name.replace(' ', '-')}.log") for name, args in PROCESSES.items()]


def _start(name: str, args: tuple[str, ...], log: Path) -> Child:
    argv = [sys.executable, "-m", "celery", "-A", "sanacloud.workers.celery_app", *args, "--loglevel", "INFO"]
    with log.open("ab") as out:
        start = out.tell()
        process = subprocess.Popen(argv, env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    return Child(name, process, log, start)


def stop_all(children: list[Child], grace_s: float = 20) -> None:
    for child in children:
        child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.process.kill()

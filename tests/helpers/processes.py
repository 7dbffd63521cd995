"""Start the platform's real processes for end-to-end tests, and stop them for sure."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.deadlines import Deadline, scaled, wait_until

SANACLOUD = str(Path(sys.executable).with_name("sanacloud"))
UP_BANNER_END = "Ctrl-C stops it."  # the last line `sanacloud up` prints once everything is up
# `sanacloud up` as on a new machine: settings from the developer's environment must not leak in.
EMBEDDED_ENV = {"SANACLOUD_DATABASE_URL": "", "SANACLOUD_STORAGE_BACKEND": "local", "SANACLOUD_BROKER_URL": "",
                "SANACLOUD_SECRET_KEY": "", "SANACLOUD_MODE": "embedded"}


@contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` in its own process group, logging to `log`; stop the whole group afterwards."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> bool:
    """SIGTERM to the process alone (it must stop its own children), then SIGKILL to any leftovers.

    Returns True when the process and all its children ended without the SIGKILL.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=scaled(grace_s))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    deadline = Deadline(grace_s, f"process group {process.pid} to end")
    while group_alive(process.pid) and not deadline.passed:
        time.sleep(0.2)
    if group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
        return False
    return True


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else f"({log} does not exist)"


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{tail(log)}")
        try:
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, what=f"{url}/readyz to answer 200", timeout_s=timeout_s, every_s=0.3,
               describe=lambda: tail(log))


def wait_for_text(log: Path, text: str, timeout_s: float = 60) -> None:
    wait_until(lambda: log.exists() and text in log.read_text(errors="replace"), what=f"{text!r} in {log}",
               timeout_s=timeout_s, every_s=0.3, describe=lambda: tail(log))


def wait_for_banner(log: Path, timeout_s: float = 240) -> str:
    """`sanacloud up`'s output once it says it is up; fails at once when it reports an error instead,
    with the tail of each log the error names."""
    def said() -> str | None:
        shown = log.read_text(errors="replace") if log.exists() else ""
        if "error: " in shown:
            named = "\n".join(f"--- {path}:\n{tail(Path(path))}" for path in re.findall(r"see (/\S+?)\)", shown))
            raise AssertionError(f"`sanacloud up` reported an error:\n{shown}\n{named}")
        return shown if UP_BANNER_END in shown else None

    return wait_until(said, what="`sanacloud up` to say it is up", timeout_s=timeout_s, every_s=0.3,
                      describe=lambda: tail(log))


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def trainer_processes(job_id: str) -> list[int]:
    """Processes whose command line runs the trainer on this job's spec (its path names the job)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "sanacloud.model.train" in cmdline and job_id in cmdline:
                found.append(int(proc.name))
    return found

"""Uploads' temporary files, kept where a process killed mid-upload does not leak them.

    <root>/<host>-<pid>-<start>/<one folder per upload>/

`<root>` is SANACLOUD_UPLOAD_TMP_DIR, by default `sanacloud-uploads` in the system's temporary
folder (in Kubernetes, the API pod's /tmp volume sized for uploads). Each process writes only
under its own folder, named so that any process on the same host can tell whether its owner still
runs: the pid alone could be reused (a restarted container's API is pid 1 again), the pid with its
start time cannot. `remove_dead` deletes the folders of processes that no longer run; the API
calls it when it starts and the maintenance sweep calls it periodically.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sanacloud.platform.settings import Settings

log = logging.getLogger(__name__)


def root(settings: Settings) -> Path:
    return settings.upload_tmp_dir or Path(tempfile.gettempdir()) / "sanacloud-uploads"


@contextmanager
def upload_dir(settings: Settings) -> Iterator[Path]:
    """A fresh folder for one upload under this process's own folder, removed afterwards."""
    mine = root(settings) / _tag(os.getpid())
    mine.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=mine) as workdir:
        yield Path(workdir)


def remove_dead(settings: Settings) -> int:
    """Delete the folders of this host's processes that no longer run; returns how many."""
    folder_root = root(settings)
    if not folder_root.is_dir():
        return 0
    removed = 0
    for folder in folder_root.iterdir():
        owner = _owner(folder.name)
        if owner is None or owner[0] != _host() or _tag(owner[1]) == folder.name:
            continue  # not ours, another host's (we cannot tell whether it runs), or a live process's
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s, the upload folder of a process that no longer runs", folder)
        removed += 1
    return removed


def _owner(name: str) -> tuple[str, int] | None:
    """(host, pid) from a folder's name."""
    parts = name.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _host() -> str:
    return socket.gethostname().replace("/", "_")


def _tag(pid: int) -> str:
    """`<host>-<pid>-<start>`: the same for the whole life of a process, another for any later one."""
    return f"{_host()}-{pid}-{_started(pid)}"


_PROC = Path("/proc/self/stat").exists()
_BOOT = Path("/proc/sys/kernel/random/boot_id").read_text()[:8] if _PROC else ""


def _started(pid: int) -> str:
    """When `pid` started (boot id and clock ticks since boot), or "gone" if no such process runs.

    Without /proc (macOS) only whether it runs: a reused pid then keeps a dead folder until it ends too.
    """
    if not _PROC:
        return "running" if _runs(pid) else "gone"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return f"{_BOOT}.{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, starttime: the 20th after "(comm)"


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True

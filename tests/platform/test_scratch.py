"""Uploads' temporary folders: each process's own, removed once that process no longer runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import scratch
from sanacloud.platform.settings import Settings
from tests.helpers.backends import reset_caches
from tests.helpers.deadlines import scaled, wait_until

UPLOADING = """
import sys
from pathlib import Path
from sanacloud.platform import scratch
from sanacloud.platform.settings import Settings
with scratch.upload_dir(Settings(upload_tmp_dir=Path(sys.argv[1]))) as workdir:
    (workdir / "image.bin").write_bytes(b"x" * 1000)
    sys.stdin.read()  # until killed
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(upload_tmp_dir=tmp_path / "uploads", data_dir=tmp_path / "data")


def spooled(root: Path) -> list[Path]:
    return sorted(root.rglob("image.bin")) if root.exists() else []


def test_upload_dir_lives_in_the_process_folder_and_goes_afterwards(settings: Settings) -> None:
    with scratch.upload_dir(settings) as workdir:
        assert workdir.parent.parent == settings.upload_tmp_dir
        assert workdir.parent.name.startswith(f"{socket.gethostname()}-{os.getpid()}-")
        (workdir / "image.bin").write_bytes(b"x")
    assert not workdir.exists()
    assert scratch.remove_dead(settings) == 0  # this process's own folder stays while it runs
    assert workdir.parent.is_dir()


def test_a_killed_process_folder_is_removed_and_live_ones_kept(settings: Settings) -> None:
    root = settings.upload_tmp_dir
    assert root is not None
    uploading = subprocess.Popen([sys.executable, "-c", UPLOADING, str(root)], stdin=subprocess.PIPE)
    try:
        wait_until(lambda: spooled(root), what="the uploading process to spool a file", timeout_s=30)
        with scratch.upload_dir(settings) as mine:
            assert scratch.remove_dead(settings) == 0  # it still runs
            uploading.send_signal(signal.SIGKILL)
            uploading.wait(timeout=scaled(10))
            reused_pid = root / f"{socket.gethostname()}-{os.getpid()}-0.0"  # this pid, an earlier start
            other_host = root / f"elsewhere-{uploading.pid}-0.0"
            for folder in (reused_pid, other_host):
                folder.mkdir()
            assert scratch.remove_dead(settings) == 2
            assert sorted(root.iterdir()) == sorted([mine.parent, other_host])
            assert mine.is_dir()
    finally:
        uploading.kill()
        uploading.wait()


@pytest.fixture
def api_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SANACLOUD_UPLOAD_TMP_DIR", str(settings.upload_tmp_dir))
    monkeypatch.setenv("SANACLOUD_DATA_DIR", str(settings.data_dir))
    reset_caches()
    yield
    reset_caches()


def test_the_api_removes_dead_processes_folders_when_it_starts(settings: Settings, api_env: None) -> None:
    from sanacloud.api.app import create_app

    assert settings.upload_tmp_dir is not None
    dead = settings.upload_tmp_dir / f"{socket.gethostname()}-{os.getpid()}-0.0" / "upload-x"
    dead.mkdir(parents=True)
    (dead / "image.bin").write_bytes(b"x")
    with TestClient(create_app()):
        assert list(settings.upload_tmp_dir.iterdir()) == []

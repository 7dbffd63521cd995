"""`scripts/setup.sh` says one line while it installs, nothing when there is nothing to do, and pip's
output (its build warnings) only when the install fails. pip is a stand-in here: a `.venv/bin/python`
that prints noise, so the script runs in seconds and touches neither the real .venv nor a registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.deadlines import scaled

ROOT = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../calls"
echo "WARNING: a build warning nobody asked for"
echo "  ... and many more lines of it" >&2
case "$*" in *" -e "*) exit "$(cat "$(dirname "$0")/../install-exit-code" 2>/dev/null || echo 0)";; esac
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "setup.py").write_text("")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def setup(checkout: Path, *extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup.sh", *extras], cwd=checkout, capture_output=True, text=True,
                          timeout=scaled(60))


def screen(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_an_install_shows_one_line_and_logs_the_rest(checkout: Path) -> None:
    first = setup(checkout, "model")
    assert first.returncode == 0 and screen(first) == \
        "setting up .venv (first run: a few minutes; log in .venv/setup.log)\n", screen(first)
    assert "a build warning nobody asked for" in (checkout / ".venv" / "setup.log").read_text()
    calls = (checkout / ".venv" / "calls").read_text()

    again = setup(checkout, "model")
    assert again.returncode == 0 and screen(again) == "", screen(again)
    assert (checkout / ".venv" / "calls").read_text() == calls, "installed again with nothing changed"

    (checkout / "setup.py").write_text("# changed\n")
    changed = setup(checkout, "model")
    assert screen(changed) == "updating .venv (log in .venv/setup.log)\n", screen(changed)


def test_a_failed_install_shows_the_log_tail_and_is_retried(checkout: Path) -> None:
    (checkout / ".venv" / "install-exit-code").write_text("1")
    failed = setup(checkout, "dev,model")
    assert failed.returncode == 1
    assert "and many more lines of it" in failed.stderr and "setup failed; the whole log is .venv/setup.log" \
        in failed.stderr, screen(failed)
    (checkout / ".venv" / "install-exit-code").write_text("0")
    retried = setup(checkout, "dev,model")
    assert retried.returncode == 0 and "setting up .venv" in retried.stderr, screen(retried)

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


FAKE_NPM = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/npm-calls"
echo "npm noise nobody asked for"
case "$*" in "run build")
  [ -f fail ] && { echo "src/app.tsx: error TS2322" >&2; exit 2; }
  mkdir -p ../api/dashboard/build && echo "<html>" > ../api/dashboard/build/index.html;;
esac
"""


@pytest.fixture
def npm(checkout: Path) -> Path:
    (checkout / "dashboard" / "src").mkdir(parents=True)
    (checkout / "dashboard" / "package-lock.json").write_text("{}")
    (checkout / "dashboard" / "src" / "app.tsx").write_text("export {};\n")
    fake = checkout / "bin" / "npm"
    fake.parent.mkdir()
    fake.write_text(FAKE_NPM)
    fake.chmod(0o755)
    return fake


def setup_with(checkout: Path, npm: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup.sh"], cwd=checkout, capture_output=True, text=True,
                          timeout=scaled(60), env={"PATH": "/usr/bin:/bin", "NPM": npm})


def test_the_dashboard_is_built_once_and_again_when_its_sources_change(checkout: Path, npm: Path) -> None:
    first = setup_with(checkout, str(npm))
    assert first.returncode == 0 and first.stderr.splitlines()[-1] == \
        "building the dashboard (log in .venv/dashboard-build.log)", screen(first)
    assert (checkout / "api" / "dashboard" / "build" / "index.html").is_file()
    assert (npm.parent / "npm-calls").read_text() == "ci --no-audit --no-fund\nrun build\n"
    assert "npm noise" in (checkout / ".venv" / "dashboard-build.log").read_text()

    again = setup_with(checkout, str(npm))
    assert again.returncode == 0 and screen(again) == "", screen(again)

    (checkout / "dashboard" / "src" / "app.tsx").write_text("export const changed = 1;\n")
    (checkout / "dashboard" / "fail").write_text("")
    failed = setup_with(checkout, str(npm))
    assert failed.returncode == 1 and "error TS2322" in failed.stderr and \
        "the dashboard's build failed; the whole log is .venv/dashboard-build.log" in failed.stderr, screen(failed)
    (checkout / "dashboard" / "fail").unlink()
    rebuilt = setup_with(checkout, str(npm))
    assert rebuilt.returncode == 0 and screen(rebuilt) == \
        "building the dashboard (log in .venv/dashboard-build.log)\n", screen(rebuilt)


def test_without_npm_setup_says_so_in_one_line_and_goes_on(checkout: Path, npm: Path) -> None:
    result = setup_with(checkout, str(checkout / "missing" / "npm"))
    assert result.returncode == 0 and result.stderr.splitlines()[-1] == \
        "npm not found: the dashboard is not built (install Node.js 20 and npm, then run this again)", screen(result)
    assert not (checkout / "api" / "dashboard" / "build").exists()

"""The README's tour, run as written against `sanacloud up`, so that it cannot rot; and what it
promises a new user: the LoRA it fine-tunes with the CLI on pink scenes (a colour sana-tiny never
saw) draws pink where the served prompt asks, where the base model's endpoint does not. Then the
README's Python example, against the same platform.

The block under "## A tour with the CLI" runs in bash with two lines changed (the key `up` printed,
and this test's port in the URL) and strictures a reader does not need: `set -euo pipefail` stops it
at the first command that fails (the tour marks with `|| echo` the ones that must fail), every `jq`
fails when its result is null or false (`-e`), and the trace (`set -x`) names the step. Its output is
not a terminal, so it must hold no control character. The curl block is a reference: only its bash
syntax is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from sanacloud.model.tiny.judge import concept_adherence
from sanacloud.model.tiny.shapes import parse_caption
from tests.helpers.deadlines import scaled
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, tail, wait_for_banner, wait_for_text
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY_LINE = "KEY=sk_...                                  # printed by `scripts/up.sh`"
README_URL = "http://127.0.0.1:8000"
PROMPT = "a pink circle on a blue background"
STRICT = """set -euxo pipefail
jq() { command jq -e "$@"; }
"""
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def readme_block(heading: str, language: str) -> str:
    readme = (ROOT / "README.md").read_text()
    assert heading in readme, f"the README has no {heading!r}"
    found = re.search(rf"```{language}\n(.*?)```", readme.split(heading, 1)[1], re.DOTALL)
    assert found, f"the README's {heading!r} has no ```{language} block"
    return found.group(1)


def images_in(folder: Path) -> list[Image.Image]:
    paths = sorted(folder.glob("*.png"))
    assert paths, f"no PNG in {folder}"
    images = [Image.open(path).convert("RGB") for path in paths]
    assert all(image.size == (128, 128) for image in images), [image.size for image in images]
    return images


def pink_shown(folder: Path) -> float:
    images = images_in(folder)
    scene = parse_caption(PROMPT)
    assert scene
    return concept_adherence(images, [scene] * len(images), "pink")


def platform_log(home: Path) -> str:
    logs = home / ".sanacloud" / "logs"
    return "\n".join(f"--- {path.name}:\n{tail(path)}" for path in sorted(logs.glob("*.log")))


def run_in(work: Path, argv: list[str], env: dict[str, str], what: str, timeout_s: float,
           home: Path) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, cwd=work, env={**os.environ, **env}, capture_output=True, text=True,
                                timeout=scaled(timeout_s))
    except subprocess.TimeoutExpired as stuck:
        raise AssertionError(f"{what} did not finish in {scaled(timeout_s):.0f} s; its output so far:\n"
                             f"{stuck.stdout!s}\n{stuck.stderr!s}\nplatform log:\n{platform_log(home)}") from None
    assert result.returncode == 0, (f"{what} stopped (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
                                    f"{result.stderr[-4000:]}\nplatform log:\n{platform_log(home)}")
    return result


def test_the_curl_reference_is_valid_bash() -> None:
    block = readme_block("## The REST API with curl", "bash")
    checked = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.timeout(1200)  # 75 s on an idle machine, 8 minutes on a busy one; the tour itself may take 600 s
def test_the_readme_tour_runs_top_to_bottom_and_teaches_pink(tmp_path: Path) -> None:
    tour, example = readme_block("## A tour with the CLI", "bash"), readme_block("### From Python", "python")
    assert KEY_LINE in tour and README_URL in tour, "the tour's first lines changed; update this test"
    assert f'generate $EP "{PROMPT}"' in tour and f'generate $BASE "{PROMPT}"' in tour, "the served prompt changed"
    home, work, port = tmp_path / "home", tmp_path / "work", free_port()
    home.mkdir()
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")  # the tour runs from a checkout's folder
    # The platform's default data dir and the CLI's config file where a new user has them.
    env = {**EMBEDDED_ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_STATE_HOME": str(home / ".local" / "state"), "SANACLOUD_API_KEY": "", "SANACLOUD_BASE_URL": ""}
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"

    started = time.monotonic()
    with running([SANACLOUD, "up", "--port", str(port)], env, log):
        banner = wait_for_banner(log)
        wait_for_text(log, "workers: ready.")  # the GPU worker consumes: the tour trains at once
        up_s = time.monotonic() - started
        keys = re.findall(r"sk_[A-Za-z0-9_-]+", banner)
        assert keys, f"`up` printed no API key:\n{banner}"
        (work / "tour.sh").write_text(STRICT + tour.replace(KEY_LINE, f"KEY={keys[-1]}").replace(README_URL, api))
        result = run_in(work, ["bash", "tour.sh"], env, "the tour", 600, home)
        tour_s = time.monotonic() - started - up_s
        first_tuned = min(path.stat().st_mtime for path in (work / "tuned").glob("*.png"))

        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            found = CONTROL_CHARACTERS.search(text)
            assert not found, f"the tour's {stream} (not a terminal) holds {found.group()!r}: " \
                              f"{text[max(0, found.start() - 200):found.end() + 50]!r}"
        assert "broken.png" in result.stdout and "not an image" in result.stdout, "the refused upload named no file"
        before, after = pink_shown(work / "base"), pink_shown(work / "tuned")
        assert before <= 0.25 and after >= 0.5, f"pink shown by the base endpoint {before:.0%}, the LoRA's {after:.0%}"

        (work / "example.py").write_text(example)
        example_started = time.monotonic()
        run_in(work, [sys.executable, "example.py"], {**env, "SANACLOUD_BASE_URL": api, "SANACLOUD_API_KEY": keys[-1]},
               "the Python example", 300, home)
        example_s = time.monotonic() - example_started
        images_in(work / "pink-py")
    print(f"\nup ready in {up_s:.0f} s; the tour took {tour_s:.0f} s, its fine-tune's first image saved "
          f"{first_tuned - (time.time() - (time.monotonic() - started)):.0f} s after `up` started; "
          f"the Python example {example_s:.0f} s")

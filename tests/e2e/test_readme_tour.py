"""The README's curl tour, run as written against `sanacloud up`, so that it cannot rot; and what
it promises a new user: the LoRA it fine-tunes on pink scenes (a colour sana-tiny never saw) draws
pink where the served prompt asks, where the base model's endpoint does not.

The block under "## A tour with curl" runs in bash with two lines changed (the key `up` printed,
and this test's port) and two strictures a reader does not need: every `curl` fails on an HTTP
error (`--fail-with-body`), and every `jq` fails when its result is null or false (`-e`), so a
step that silently answers 404 or an empty id stops the tour, and the trace (`set -x`) names it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from sanacloud.model.tiny.judge import concept_adherence
from sanacloud.model.tiny.shapes import parse_caption
from tests.helpers.deadlines import scaled
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, tail, wait_for_banner, wait_for_text
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY_LINE = "KEY=sk_...                                   # printed by `scripts/up.sh`"
API_LINE = "API=http://127.0.0.1:8000"
STRICT = """set -euxo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
jq() { command jq -e "$@"; }
"""


def readme_tour() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A tour with curl", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found, "the README's tour has no ```bash block"
    return found.group(1)


def json_documents(output: str) -> Iterator[dict[str, Any]]:
    """The JSON objects in the tour's output, where curl printed them back to back."""
    decoder, at = json.JSONDecoder(), 0
    while (at := output.find("{", at)) != -1:
        try:
            document, end = decoder.raw_decode(output, at)
        except json.JSONDecodeError:
            at += 1
            continue
        if isinstance(document, dict):
            yield document
        at = end


def pink_shown(generations: list[dict[str, Any]]) -> float:
    images = [Image.open(io.BytesIO(httpx.get(url, timeout=scaled(30)).content)).convert("RGB")
              for generation in generations for url in generation["image_urls"]]
    scenes = [parse_caption(generation["params"]["prompt"]) for generation in generations
              for _ in generation["image_urls"]]
    assert images and all(scenes), generations
    return concept_adherence(images, scenes, "pink")  # type: ignore[arg-type]


def platform_log(home: Path) -> str:
    logs = home / ".sanacloud" / "logs"
    return "\n".join(f"--- {path.name}:\n{tail(path)}" for path in sorted(logs.glob("*.log")))


@pytest.mark.timeout(900)  # about 110 s on an idle machine; the tour itself may take 600 s
def test_the_readme_tour_runs_top_to_bottom_and_teaches_pink(tmp_path: Path) -> None:
    tour = readme_tour()
    assert KEY_LINE in tour and API_LINE in tour, "the tour's first lines changed; update this test"
    home, work, port = tmp_path / "home", tmp_path / "work", free_port()
    home.mkdir()
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")  # the tour runs from a checkout's folder
    env = {**EMBEDDED_ENV, "HOME": str(home)}  # the platform's default data dir, as a new user has it
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"

    with running([SANACLOUD, "up", "--port", str(port)], env, log):
        banner = wait_for_banner(log)
        wait_for_text(log, "workers: ready.")  # the GPU worker consumes: the tour trains at once
        keys = re.findall(r"sk_[A-Za-z0-9_-]+", banner)
        assert keys, f"`up` printed no API key:\n{banner}"
        script = tour.replace(KEY_LINE, f"KEY={keys[-1]}").replace(API_LINE, f"API={api}")
        (work / "tour.sh").write_text(STRICT + script)
        try:
            result = subprocess.run(["bash", "tour.sh"], cwd=work, env={**os.environ, **env}, capture_output=True,
                                    text=True, timeout=scaled(600))
        except subprocess.TimeoutExpired as stuck:
            raise AssertionError(f"the tour did not finish in {scaled(600):.0f} s; its output so far:\n"
                                 f"{stuck.stdout!s}\n{stuck.stderr!s}\nplatform log:\n{platform_log(home)}"
                                 ) from None
        assert result.returncode == 0, (f"the tour stopped (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
                                        f"{result.stderr[-3000:]}\nplatform log:\n{platform_log(home)}")

        endpoints = httpx.get(f"{api}/v1/endpoints", headers={"Authorization": f"Bearer {keys[-1]}"}).json()
        names = {endpoint["id"]: endpoint["name"] for endpoint in endpoints["items"]}
        served = [doc for doc in json_documents(result.stdout) if doc.get("image_urls") and "endpoint_id" in doc]
        tuned = [doc for doc in served if names[doc["endpoint_id"]] == "pink"]
        base = [doc for doc in served if names[doc["endpoint_id"]] == "base"]
        assert tuned and base, f"the tour printed no images of both endpoints: {served}"
        before, after = pink_shown(base), pink_shown(tuned)
        assert before <= 0.25 and after >= 0.5, f"pink shown by the base endpoint {before:.0%}, the LoRA's {after:.0%}"

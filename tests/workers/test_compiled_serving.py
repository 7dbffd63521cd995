"""The inference worker's compiled serving draws what eager serving draws, compiles only while it
warms up, and a restarted worker reads its compiled artefacts from the local cache instead of
compiling from scratch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROUNDING = 1  # max |Δ| of 255: compiled kernels sum in another order


def probe(scratch: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-m", "tests.helpers.compile_probe", str(scratch)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(900)  # two processes each compiling (or loading) every graph: minutes on a busy 2-core machine
def test_compiled_serving_matches_eager_and_restarts_from_its_cache(tmp_path: Path) -> None:
    cache = tmp_path / "torch-compile"
    cold = probe(tmp_path / "first", cache)
    assert cold["max_diff"].keys() == {"base", "lora"} and max(cold["max_diff"].values()) <= ROUNDING
    # The warm-up compiled before the model was handed out; batches of 3, and an adapter merged in
    # after the warm-up, ran on its graphs.
    assert cold["warm_up_s"] > 0
    assert cold["graphs_after_serving"] == cold["graphs_after_warm_up"] > 0
    assert cold["cache_misses"] > 0 and cold["cache_hits"] == 0
    restarted = probe(tmp_path / "second", cache)
    assert restarted["cache_hits"] == cold["cache_misses"] and restarted["cache_misses"] == 0
    assert restarted["max_diff"] == cold["max_diff"]

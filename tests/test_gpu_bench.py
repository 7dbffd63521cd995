"""The GPU benchmark script runs end to end at tiny size on CPU (eager: compiles take minutes here),
so that a lent GPU machine's few minutes are never lost to a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"


@pytest.mark.slow
def test_the_gpu_benchmark_writes_every_measurement_at_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--no-compile"], capture_output=True, text=True,
                          env={**os.environ, "OUT": str(tmp_path), "OMP_NUM_THREADS": "2"}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r for r in records if r["kind"] == "error"] == []
    serving = {(r["path"], r["batch"]) for r in records if r["kind"] == "serving"}
    assert serving == {(path, batch) for path in ("ours", "diffusers") for batch in (1, 2)}
    assert all(r["end_to_end_s"] > 0 and r["transformer_s"] > 0 for r in records if r["kind"] == "serving")
    switches = [r for r in records if r["kind"] == "lora_switch"]
    assert len(switches) == 1 and switches[0]["layers"] > 0 and switches[0]["switch_s"] > 0
    assert [r["kind"] for r in records].count("cold_start") == 1
    loops = {(r["variant"], r["loop"]) for r in records if r["kind"] == "loop"}
    assert loops == {(variant, loop) for variant in ("lora", "full") for loop in ("diffusers", "sanacloud")}

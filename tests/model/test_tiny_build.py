"""`python -m sanacloud.model.tiny.build --quick`: a rebuild replaces the weights, keeps the
hand-written model card and reports what the codec and the model draw, per shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sanacloud.model.components import load
from sanacloud.model.tiny import MODEL_CARD
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.shapes import ALL_SHAPES, BASE_SHAPES
from tests.helpers.deadlines import scaled

pytestmark = pytest.mark.slow  # both stages train for real, the DiT through DeepSpeed


def test_a_rebuild_replaces_the_weights_and_keeps_the_model_card(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    out.mkdir()
    (out / MODEL_CARD).write_text("# sana-tiny\nhow to use it\n")
    (out / "stale.safetensors").write_bytes(b"old weights")

    built = subprocess.run([sys.executable, "-m", "sanacloud.model.tiny.build", "--quick", "--out", str(out),
                            "--work", str(tmp_path / "work")], capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=scaled(300))
    assert built.returncode == 0, built.stderr[-3000:]

    assert (out / MODEL_CARD).read_text() == "# sana-tiny\nhow to use it\n"
    assert not (out / "stale.safetensors").exists()
    assert load(out, SPEC).transformer is not None
    # Its own reports are JSON lines (DeepSpeed's log lines are not).
    reports = {report["type"]: report for report in map(json.loads, filter(
        lambda line: line.startswith("{"), built.stdout.splitlines()))}
    assert set(reports["codec_shapes"]) == {"type", *ALL_SHAPES}  # the held-out star too: the codec sees it
    assert all(0 <= share <= 1 for shape, share in reports["codec_shapes"].items() if shape != "type")
    assert {"background", "color", "shape", *(f"shape_{shape}" for shape in BASE_SHAPES)} <= set(reports["adherence"])

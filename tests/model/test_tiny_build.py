"""`python -m sanacloud.model.tiny.build` at a toy size: a rebuild replaces the weights and keeps the
hand-written model card."""

from __future__ import annotations

from pathlib import Path

import pytest

from sanacloud.model.components import load
from sanacloud.model.tiny import MODEL_CARD
from sanacloud.model.tiny.build import QUICK, build
from sanacloud.model.tiny.config import SPEC

pytestmark = pytest.mark.slow  # both stages train for real, the DiT through DeepSpeed


def test_a_rebuild_replaces_the_weights_and_keeps_the_model_card(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    out.mkdir()
    (out / MODEL_CARD).write_text("# sana-tiny\nhow to use it\n")
    (out / "stale.safetensors").write_bytes(b"old weights")

    build(out, tmp_path / "work", QUICK)

    assert (out / MODEL_CARD).read_text() == "# sana-tiny\nhow to use it\n"
    assert not (out / "stale.safetensors").exists()
    assert load(out, SPEC).transformer is not None

"""Auto-captions teach as well as true ones: a LoRA trained on the pink scenes captioned by the
built-in captioner (through the captioning child's events, stored as metadata.jsonl's
"scored_captions", no user caption) learns pink as well as one trained on the true captions.

As tests/model/test_finetune_proof.py, with fewer steps (each training must stay cheap)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sanacloud.model.captioning import run as captioning
from sanacloud.model.components import load
from sanacloud.model.sampling.generate import make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.evaluate import measure_concept
from sanacloud.model.tiny.shapes import ALL_COLORS, BASE_SHAPES, HELD_OUT_EVAL_SCENES, write_dataset
from sanacloud.model.train.checkpoints import latest
from tests.helpers.trainer import make_spec, run_trainer

pytestmark = pytest.mark.slow
PINK_SCENES = [scene for scene in HELD_OUT_EVAL_SCENES if "pink" in scene.concepts and scene.shape != "star"]
STEPS = 150  # half the proof's 300: ~25 s per training here, and pink is learnt as well
MARGIN = 0.15
# Measured (2-core CPU, 150 steps): the auto captions equal the true ones for 100 % of the 200 scenes,
# so both LoRAs show pink in 80 % of the 5 prompts x 4 seeds; the whole test takes ~55 s.


def auto_captioned(truth: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> float:
    """A copy of `truth`'s images whose only captions are the captioning child's (scored); returns the
    share of them equal to the true caption."""
    folder.mkdir()
    for image in truth.glob("*.png"):
        (folder / image.name).write_bytes(image.read_bytes())
    spec = captioning.CaptionSpec.model_validate({
        "data_dir": folder, "captioners": [{"source": "sana-tiny-captioner", "family": "sana-tiny-judge"}],
        "scorer": {"source": "sana-tiny-scorer", "family": "sana-tiny-judge"}})
    capsys.readouterr()
    captioning.run(spec)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    results: list[dict[str, Any]] = [e for e in events if e["type"] == "captions"]
    lines = [json.dumps({"file_name": e["file"], "text": "", "scored_captions": e["captions"]}) for e in results]
    (folder / "metadata.jsonl").write_text("".join(line + "\n" for line in lines))
    rows = map(json.loads, (truth / "metadata.jsonl").read_text().splitlines())
    true = {row["file_name"]: row["text"] for row in rows}
    return float(sum(c["text"] == true[e["file"]] for e in results for c in e["captions"]) / len(true))


def train_and_measure(data: Path, out: Path) -> float:
    spec = make_spec(WEIGHTS, data, out, type="lora", steps=STEPS, batch_size=16, learning_rate=3e-3,
                     caption_dropout=0.1, log_every=50, validation_prompts=[])
    run_trainer(spec, timeout=900)
    base = load(WEIGHTS, SPEC)
    tuned = make_pipeline(base)
    found = latest(spec.output_dir)
    assert found is not None, "the trainer wrote no checkpoint"
    tuned.load_lora_weights(str(found[1]))  # the exported adapter, as a tenant gets it
    return measure_concept(base, PINK_SCENES, "pink", seeds_per_scene=4, pipe=tuned)


@pytest.mark.timeout(900)
def test_auto_captions_teach_pink_as_well_as_true_captions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = tmp_path / "pink"
    write_dataset(truth, 200, 128, seed=11, colors=ALL_COLORS, shapes=BASE_SHAPES, require_any=("pink",))
    agreement = auto_captioned(truth, tmp_path / "auto", capsys)
    with capsys.disabled():
        print(f"auto captions equal to the truth: {agreement:.0%}")
    true_lora = train_and_measure(truth, tmp_path / "run-true")
    auto_lora = train_and_measure(tmp_path / "auto", tmp_path / "run-auto")
    with capsys.disabled():
        print(f"pink adherence: true captions {true_lora:.2f}, auto captions {auto_lora:.2f}")
    assert agreement >= 0.9
    assert auto_lora >= 0.5 and abs(auto_lora - true_lora) <= MARGIN, (true_lora, auto_lora)

"""A LoRA fine-tune teaches the shipped sana-tiny a colour it has never seen.

The base DiT never saw "pink" (`shapes.HELD_OUT_COLORS`): asked for a pink shape, it draws some
other colour. A LoRA trained by the real trainer on the sample set a user gets from
`python -m sanacloud.model.tiny.sample_data` (200 captioned scenes that all show pink) makes the
judge find pink where the prompts ask for it, and leaves the base prompts' colours intact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sanacloud.model.components import load
from sanacloud.model.sampling.generate import make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.evaluate import measure, measure_concept
from sanacloud.model.tiny.sample_data import write_sample
from sanacloud.model.tiny.shapes import EVAL_SCENES, HELD_OUT_EVAL_SCENES
from sanacloud.model.train.checkpoints import latest
from tests.helpers.trainer import make_spec, run_trainer

pytestmark = pytest.mark.slow
PINK_SCENES = [scene for scene in HELD_OUT_EVAL_SCENES if "pink" in scene.concepts and scene.shape != "star"]


@pytest.mark.timeout(900)  # about 90 s on an idle machine
def test_lora_teaches_a_held_out_colour(tmp_path: Path) -> None:
    data = write_sample(tmp_path / "pink", images=200, concept="pink", seed=11)
    spec = make_spec(WEIGHTS, data, tmp_path / "run", type="lora", steps=300, batch_size=16, learning_rate=3e-3,
                     caption_dropout=0.1, log_every=50, validation_prompts=[])
    run_trainer(spec, timeout=900)

    base = load(WEIGHTS, SPEC)
    before = measure_concept(base, PINK_SCENES, "pink", seeds_per_scene=4)  # before the adapter wraps its layers
    tuned = make_pipeline(base)
    tuned.load_lora_weights(str(latest(spec.output_dir)[1]))  # the exported adapter, as a tenant gets it
    after = measure_concept(base, PINK_SCENES, "pink", seeds_per_scene=4, pipe=tuned)
    kept = measure(base, EVAL_SCENES, pipe=tuned, seeds_per_scene=3)  # one seed each swings by ±10 points
    # Measured (training seed 3): pink shown 5 % -> 85 % (5 prompts x 4 seeds); base prompts keep
    # 90 % of their colours, while backgrounds drop to 61 % (the set shows pink as a background
    # half the time).
    assert before <= 0.1 and after >= 0.5, (before, after)
    assert kept["color"] >= 0.8 and kept["background"] >= 0.5, kept


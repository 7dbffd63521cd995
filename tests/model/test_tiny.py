"""The shipped sana-tiny draws the colours it is asked for, deterministically."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sanacloud.model.components import Sana, load
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.evaluate import adherence_by_shape, render
from sanacloud.model.tiny.shapes import EVAL_SCENES


@pytest.fixture(scope="module")
def tiny() -> Sana:
    return load(WEIGHTS, SPEC)


def test_prompt_adherence_at_20_steps(tiny: Sana) -> None:
    # Measured: background 1.00, colour 1.00, shape 0.58: circle 1.00, ring 0.83, triangle 0.42,
    # square 0.08 (squares are not learnt yet; see README). 12 images per shape: one is 8 points.
    result = adherence_by_shape(*render(tiny, EVAL_SCENES, steps=20, seeds_per_scene=2))
    assert result["background"] >= 0.95 and result["color"] >= 0.95 and result["shape"] >= 0.5, result
    assert result["shape_circle"] >= 0.85 and result["shape_ring"] >= 0.65 and result["shape_triangle"] >= 0.25, result


def test_same_seed_same_image_of_the_requested_size(tiny: Sana) -> None:
    pipe = make_pipeline(tiny)
    prompt = "a red circle on a blue background"
    first, other = generate(pipe, tiny, [prompt, prompt], seeds=[7, 8], steps=20)
    again, _ = generate(pipe, tiny, [prompt, prompt], seeds=[7, 8], steps=20)
    alone = generate(pipe, tiny, [prompt], seeds=[7], steps=20)[0]
    assert np.array_equal(np.asarray(first), np.asarray(again))
    # Alone or in a batch, a seed gives the same image up to float rounding of batched kernels.
    assert np.abs(np.asarray(first, dtype=int) - np.asarray(alone, dtype=int)).max() <= 3
    assert np.abs(np.asarray(first, dtype=int) - np.asarray(other, dtype=int)).mean() > 5
    encoded = io.BytesIO()
    first.save(encoded, format="PNG")
    assert Image.open(io.BytesIO(encoded.getvalue())).size == (128, 128)


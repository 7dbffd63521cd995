"""`python -m sanacloud.model.tiny.report`: the README's numbers for the shipped sana-tiny and the
grid that shows its evaluation prompts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sanacloud.model.tiny.report import COLUMNS, LABEL_HEIGHT, grid
from sanacloud.model.tiny.shapes import ALL_SHAPES, BASE_SHAPES, EVAL_SCENES, render
from tests.helpers.deadlines import scaled


def test_the_grid_puts_each_prompts_seeds_side_by_side_over_its_caption() -> None:
    scenes = [scene for scene in EVAL_SCENES[:6] for _ in range(2)]
    images = [render(scene, 32, np.random.default_rng(i)) for i, scene in enumerate(scenes)]
    sheet = grid(images, scenes, seeds_per_prompt=2)

    assert sheet.size == (COLUMNS * 64, 2 * (32 + LABEL_HEIGHT))  # 6 prompts: a full row and a partial one
    fifth_prompt_second_seed = sheet.crop((32, 32 + LABEL_HEIGHT, 64, 64 + LABEL_HEIGHT))
    assert np.array_equal(np.asarray(fifth_prompt_second_seed), np.asarray(images[9]))
    label = np.asarray(sheet.crop((0, 32, 64, 32 + LABEL_HEIGHT)).convert("L"))
    assert label.min() < 100 and label.max() == 255  # dark caption text on white
    empty_cell = np.asarray(sheet.crop((2 * 64, 32 + LABEL_HEIGHT, 4 * 64, 64 + 2 * LABEL_HEIGHT)))
    assert (empty_cell == 255).all()


def test_the_report_measures_the_shipped_model_and_writes_its_grid(tmp_path: Path) -> None:
    picture = tmp_path / "eval.png"
    done = subprocess.run([sys.executable, "-m", "sanacloud.model.tiny.report", "--grid", str(picture)],
                          capture_output=True, text=True, timeout=scaled(300))
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {f"shape_{shape}" for shape in BASE_SHAPES} | {f"codec_{shape}" for shape in ALL_SHAPES} <= set(result)
    assert result["background"] >= 0.9 and result["shape"] >= 0.5, result
    assert Image.open(picture).size == (COLUMNS * 256, len(EVAL_SCENES) // COLUMNS * (128 + LABEL_HEIGHT))

"""Measure a sana-tiny folder the way the README reports it, and draw its evaluation grid.

    python -m sanacloud.model.tiny.report [--weights model/tiny/weights] [--grid docs/sana-tiny-eval.png]
                                          [--solver dpm|euler]

Prints one JSON line: adherence over the evaluation prompts x 2 seeds at 20 steps of the solver
(Flow-DPM-Solver unless told), per shape too, and the DC-AE's round trip per shape. The grid shows every evaluation
prompt's images, one cell per prompt, captioned under the images.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sanacloud.model.components import load
from sanacloud.model.sampling.schedulers import SOLVERS
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.evaluate import adherence_by_shape, codec_shapes, render
from sanacloud.model.tiny.shapes import EVAL_SCENES, Scene

SEEDS_PER_PROMPT = 2
COLUMNS = 4  # prompts per row
LABEL_HEIGHT = 16


def grid(images: Sequence[Image.Image], scenes: Sequence[Scene], seeds_per_prompt: int) -> Image.Image:
    """Consecutive runs of `seeds_per_prompt` images (one prompt's) side by side over its caption."""
    tile = images[0].width
    prompts = len(images) // seeds_per_prompt
    cells = [_cell(images[i * seeds_per_prompt:(i + 1) * seeds_per_prompt], scenes[i * seeds_per_prompt], tile)
             for i in range(prompts)]
    width, height = cells[0].size
    sheet = Image.new("RGB", (width * min(COLUMNS, prompts), height * -(-prompts // COLUMNS)), "white")
    for index, cell in enumerate(cells):
        sheet.paste(cell, ((index % COLUMNS) * width, (index // COLUMNS) * height))
    return sheet


def _cell(images: Sequence[Image.Image], scene: Scene, tile: int) -> Image.Image:
    cell = Image.new("RGB", (tile * len(images), tile + LABEL_HEIGHT), "white")
    for seed, image in enumerate(images):
        cell.paste(image, (seed * tile, 0))
    caption = scene.caption.removeprefix("a ").removeprefix("an ")
    ImageDraw.Draw(cell).text((3, tile + 2), caption, fill="black", font=ImageFont.load_default())
    return cell  # a caption wider than the cell is cut off here, not drawn over its neighbour


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sanacloud.model.tiny.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--grid", type=Path, default=None, help="write the evaluation grid to this PNG")
    parser.add_argument("--solver", choices=SOLVERS, default="dpm")
    args = parser.parse_args(argv)
    sana = load(args.weights, SPEC)
    images, scenes = render(sana, EVAL_SCENES, steps=20, solver=args.solver, seeds_per_scene=SEEDS_PER_PROMPT)
    result = {**adherence_by_shape(images, scenes),
              **{f"codec_{shape}": share for shape, share in codec_shapes(sana.vae).items()}}
    print(json.dumps(result))
    if args.grid is not None:
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        grid(images, scenes, SEEDS_PER_PROMPT).save(args.grid)


if __name__ == "__main__":
    main()

"""Prompt adherence of a sana-tiny: generate each evaluation scene's caption with fixed seeds and
let the judge read the colours and shape back."""

from __future__ import annotations

from collections.abc import Sequence

from diffusers import SanaPipeline

from sanacloud.model.components import Sana
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.sampling.schedulers import Solver
from sanacloud.model.tiny.judge import adherence
from sanacloud.model.tiny.shapes import Scene


def measure(sana: Sana, scenes: Sequence[Scene], *, steps: int = 20, guidance: float = 4.5,
            solver: Solver = "dpm", seeds_per_scene: int = 1, pipe: SanaPipeline | None = None) -> dict[str, float]:
    """Fractions of images whose background, colour, shape (and all three) match their prompt."""
    pipeline = pipe or make_pipeline(sana, solver)
    prompts = [scene.caption for scene in scenes for _ in range(seeds_per_scene)]
    seeds = [1000 + i for i in range(len(prompts))]
    images = []
    for start in range(0, len(prompts), 16):
        images += generate(pipeline, sana, prompts[start:start + 16], seeds=seeds[start:start + 16], steps=steps,
                           guidance=guidance)
    return adherence(images, [scene for scene in scenes for _ in range(seeds_per_scene)])

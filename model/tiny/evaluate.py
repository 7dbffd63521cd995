"""Prompt adherence of a sana-tiny: generate each evaluation scene's caption with fixed seeds and
let the judge read the colours and shape back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diffusers import SanaPipeline
from PIL import Image

from sanacloud.model.components import Sana
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.sampling.schedulers import Solver
from sanacloud.model.tiny.judge import adherence, concept_adherence
from sanacloud.model.tiny.shapes import Scene


def render(sana: Sana, scenes: Sequence[Scene], *, steps: int = 20, guidance: float = 4.5, solver: Solver = "dpm",
           seeds_per_scene: int = 1, pipe: SanaPipeline | None = None) -> tuple[list[Image.Image], list[Scene]]:
    """Each scene's caption generated with `seeds_per_scene` fixed seeds; (images, their scenes)."""
    pipeline = pipe or make_pipeline(sana, solver)
    repeated = [scene for scene in scenes for _ in range(seeds_per_scene)]
    prompts = [scene.caption for scene in repeated]
    seeds = [1000 + i for i in range(len(prompts))]
    images: list[Image.Image] = []
    for start in range(0, len(prompts), 16):
        images += generate(pipeline, sana, prompts[start:start + 16], seeds=seeds[start:start + 16], steps=steps,
                           guidance=guidance)
    return images, repeated


def measure(sana: Sana, scenes: Sequence[Scene], **options: Any) -> dict[str, float]:
    """Fractions of images whose background, colour, shape (and all three) match their prompt."""
    return adherence(*render(sana, scenes, **options))


def measure_concept(sana: Sana, scenes: Sequence[Scene], concept: str, **options: Any) -> float:
    """The fraction of images that show `concept` where their prompt asks for it."""
    images, repeated = render(sana, scenes, **options)
    return concept_adherence(images, repeated, concept)

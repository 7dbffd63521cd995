"""Prompt adherence of a sana-tiny: generate each evaluation scene's caption with fixed seeds and
let the judge read the colours and shape back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderDC, SanaPipeline
from PIL import Image

from sanacloud.model.components import Sana
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.sampling.schedulers import Solver
from sanacloud.model.tiny.judge import adherence, concept_adherence, shape_adherence
from sanacloud.model.tiny.shapes import ALL_SHAPES, BASE_COLORS, Scene, sample_scenes
from sanacloud.model.tiny.shapes import render as draw


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


def adherence_by_shape(images: Sequence[Image.Image], scenes: Sequence[Scene]) -> dict[str, float]:
    """`adherence` and, as `shape_<name>`, each shape's share of images showing it where asked."""
    return {**adherence(images, scenes),
            **{f"shape_{shape}": share for shape, share in shape_adherence(images, scenes).items()}}


@torch.no_grad()
def codec_shapes(vae: AutoencoderDC, *, count: int = 200, seed: int = 5, size: int = 128) -> dict[str, float]:
    """Per shape (held-out star included), the fraction of drawn scenes the judge still reads as
    that shape after an encode-decode round trip: what the DiT can draw at best."""
    scenes = sample_scenes(count, np.random.default_rng(seed), colors=BASE_COLORS, shapes=ALL_SHAPES)
    originals = [draw(scene, size, np.random.default_rng([seed, i])) for i, scene in enumerate(scenes)]
    decoded: list[Image.Image] = []
    for start in range(0, count, 25):
        chunk = np.stack([np.asarray(image, dtype=np.float32) for image in originals[start:start + 25]])
        images = torch.from_numpy(chunk).permute(0, 3, 1, 2) / 127.5 - 1
        restored = vae.decode(vae.encode(images).latent).sample.clamp(-1, 1)
        pixels = ((restored + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        decoded += [Image.fromarray(each) for each in pixels]
    return shape_adherence(decoded, scenes)

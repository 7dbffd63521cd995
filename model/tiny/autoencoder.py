"""Train sana-tiny's DC-AE to reconstruct rendered scenes (L1 + MSE weighted towards the shapes'
outlines, plus a small penalty that keeps latents near unit scale), resumable from a checkpoint file.

The outline weighting is what makes corners survive: a plain loss is dominated by the flat
background, and the codec rounds squares and stars off (measured: 56 % of squares and 28 % of
stars read back as themselves after 3000 steps without it; 95 % and 80 % after 5500 with it).

The autoencoder is the image codec, not the concept learner: it sees every colour and shape,
held-out ones included, like Sana's DC-AE sees all kinds of images. Trained on base concepts only,
it cannot draw pink or a star at all (measured: 3% of pink and 0% of star scenes survive a
round trip), and then no fine-tune of the DiT could ever teach them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderDC

from sanacloud.model.tiny.shapes import ALL_COLORS, ALL_SHAPES, render, sample_scenes

LATENT_PENALTY = 1e-3  # without it the encoder's output scale drifts into the thousands
WARMUP_STEPS = 100
OUTLINE_WEIGHT = 9.0  # extra weight of pixels near an edge, over the flat background's 1


def scene_batch(batch: int, size: int, rng: np.random.Generator, colors: tuple[str, ...] = ALL_COLORS,
                shapes: tuple[str, ...] = ALL_SHAPES) -> torch.Tensor:
    """(B, 3, size, size) in [-1, 1]."""
    images = [np.asarray(render(scene, size, rng), dtype=np.float32)
              for scene in sample_scenes(batch, rng, colors=colors, shapes=shapes)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2) / 127.5 - 1


def train_autoencoder(vae: AutoencoderDC, *, steps: int, size: int, batch: int, seed: int, lr: float = 1e-3,
                      checkpoint: Path | None = None, checkpoint_every: int = 100,
                      log: Callable[[dict[str, float]], None] = print) -> None:
    """Cosine-scheduled AdamW on freshly rendered scenes; resumes from `checkpoint` if it exists."""
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / steps))))
    rng = np.random.default_rng(seed)
    step = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        step = state["step"]
    vae.train().requires_grad_(True)
    start, first = time.perf_counter(), step
    while step < steps:
        images = scene_batch(batch, size, rng)
        latents = vae.encode(images).latent
        reconstruction = vae.decode(latents).sample
        error = reconstruction - images
        weight = outline_weight(images)
        loss = ((error.abs() + error.pow(2)) * weight).mean() + LATENT_PENALTY * latents.pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        step += 1
        if step % 50 == 0 or step == steps:
            log({"step": step, "loss": round(float(loss.detach()), 5), "l1": round(float(error.abs().mean()), 5),
                 "latent_std": round(float(latents.detach().std()), 3),
                 "s_per_step": round((time.perf_counter() - start) / (step - first), 3)})
        if checkpoint is not None and (step % checkpoint_every == 0 or step == steps):
            _save(checkpoint, {"vae": vae.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "rng": rng.bit_generator.state, "step": step})
    vae.eval().requires_grad_(False)


def outline_weight(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W): 1 + OUTLINE_WEIGHT within two pixels of a colour change, 1 elsewhere."""
    spread = F.max_pool2d(images, 5, stride=1, padding=2) + F.max_pool2d(-images, 5, stride=1, padding=2)
    return 1 + OUTLINE_WEIGHT * (spread.amax(dim=1, keepdim=True) > 0.05).float()


def _save(path: Path, state: dict[str, object]) -> None:
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


@torch.no_grad()
def latent_scale(vae: AutoencoderDC, *, seed: int, size: int = 128, count: int = 256) -> float:
    """1 / std of the latents, so that scaled latents have unit variance like the noise."""
    images = scene_batch(count, size, np.random.default_rng(seed))
    latents = torch.cat([vae.encode(chunk).latent for chunk in images.split(32)])
    return float(1.0 / latents.std())

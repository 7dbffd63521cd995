"""Train sana-tiny's DC-AE to reconstruct rendered scenes: L1 + MSE, first on 64 px images (4x
cheaper; the network is convolutional), then at the native 128 px."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from diffusers import AutoencoderDC

from sanacloud.model.tiny.shapes import BASE_COLORS, BASE_SHAPES, render, sample_scenes


def scene_batch(batch: int, size: int, rng: np.random.Generator, colors: tuple[str, ...] = BASE_COLORS,
                shapes: tuple[str, ...] = BASE_SHAPES) -> torch.Tensor:
    """(B, 3, size, size) in [-1, 1]."""
    images = [np.asarray(render(scene, size, rng), dtype=np.float32)
              for scene in sample_scenes(batch, rng, colors=colors, shapes=shapes)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2) / 127.5 - 1


def train_autoencoder(vae: AutoencoderDC, phases: list[tuple[int, int, int]], *, seed: int, lr: float = 2e-3,
                      log: Callable[[dict[str, float]], None] = print,
                      colors: tuple[str, ...] = BASE_COLORS, shapes: tuple[str, ...] = BASE_SHAPES) -> None:
    """`phases`: (steps, image size, batch) each, trained in order with one optimizer."""
    rng = np.random.default_rng(seed)
    vae.train().requires_grad_(True)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    total = sum(steps for steps, _, _ in phases)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total, pct_start=0.05)
    step, start = 0, time.perf_counter()
    for steps, size, batch in phases:
        for _ in range(steps):
            images = scene_batch(batch, size, rng, colors, shapes)
            reconstruction = vae.decode(vae.encode(images).latent).sample
            loss = (reconstruction - images).abs().mean() + ((reconstruction - images) ** 2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            if step % 50 == 0 or step == total:
                log({"step": step, "size": size, "loss": round(float(loss), 5),
                     "s_per_step": round((time.perf_counter() - start) / step, 3)})
    vae.eval().requires_grad_(False)


@torch.no_grad()
def latent_scale(vae: AutoencoderDC, *, seed: int, size: int = 128, count: int = 256) -> float:
    """1 / std of the latents, so that scaled latents have unit variance like the noise."""
    images = scene_batch(count, size, np.random.default_rng(seed))
    latents = torch.cat([vae.encode(chunk).latent for chunk in images.split(32)])
    return float(1.0 / latents.std())

"""What the training caches are built with: the base model's DC-AE and text encoder on the training
device, their results on the CPU in float32 (latents scaled by the VAE's scaling factor)."""

from __future__ import annotations

import torch

from sanacloud.model.components import Sana
from sanacloud.model.data.cache import EncodeImages, EncodeTexts


def encoders(sana: Sana, device: torch.device) -> tuple[EncodeImages, EncodeTexts]:
    scale = float(sana.vae.config.scaling_factor)
    encoder = sana.prompt_encoder(device)

    def encode_images(pixels: torch.Tensor) -> torch.Tensor:
        return sana.vae.encode(pixels.to(device)).latent.float().cpu() * scale

    def encode_texts(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings, mask = encoder.encode(captions)
        return embeddings.float().cpu(), mask.cpu()

    return encode_images, encode_texts

"""One fixed forward pass of a sana-tiny transformer, to compare two transformers' weights by what they compute."""

from __future__ import annotations

import torch
from diffusers import SanaTransformer2DModel


def transformer_output(transformer: SanaTransformer2DModel, side: int = 4) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 32, side, side, generator=generator)
    text = torch.randn(2, 8, 64, generator=generator)
    with torch.no_grad():
        return transformer(x, encoder_hidden_states=text, encoder_attention_mask=torch.ones(2, 8),
                           timestep=torch.tensor([300.0, 700.0]), return_dict=False)[0]

"""Our linear attention computes what diffusers' Sana linear attention computes."""

from __future__ import annotations

import torch
from diffusers import SanaTransformer2DModel
from diffusers.models.attention_processor import Attention, SanaLinearAttnProcessor2_0

from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.attention import LinearAttention, use_linear_attention


def outputs(transformer: SanaTransformer2DModel) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 32, 16, 16, generator=generator)
    text = torch.randn(2, 8, 64, generator=generator)
    with torch.no_grad():
        return transformer(latents, encoder_hidden_states=text, encoder_attention_mask=torch.ones(2, 8),
                           timestep=torch.tensor([300.0, 700.0]), return_dict=False)[0]


def test_linear_attention_matches_diffusers_and_replaces_only_linear_attention() -> None:
    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(**REGISTRY["sana-tiny"].transformer).eval()
    expected = outputs(transformer)
    assert use_linear_attention(transformer) == REGISTRY["sana-tiny"].transformer["num_layers"]
    processors = [type(m.processor) for m in transformer.modules() if isinstance(m, Attention)]
    assert LinearAttention in processors and SanaLinearAttnProcessor2_0 not in processors
    assert len(set(processors)) == 2  # cross-attention keeps diffusers' softmax attention
    torch.testing.assert_close(outputs(transformer), expected, rtol=1e-4, atol=1e-5)

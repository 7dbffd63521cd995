"""Our linear attention computes what diffusers' Sana linear attention computes."""

from __future__ import annotations

import torch
from diffusers import SanaTransformer2DModel
from diffusers.models.attention_processor import Attention, SanaLinearAttnProcessor2_0

from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.attention import LinearAttention, use_linear_attention
from tests.helpers.transformer import transformer_output


def test_linear_attention_matches_diffusers_and_replaces_only_linear_attention() -> None:
    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(**REGISTRY["sana-tiny"].transformer).eval()
    expected = transformer_output(transformer, side=16)
    assert use_linear_attention(transformer) == REGISTRY["sana-tiny"].transformer["num_layers"]
    processors = [type(m.processor) for m in transformer.modules() if isinstance(m, Attention)]
    assert LinearAttention in processors and SanaLinearAttnProcessor2_0 not in processors
    assert len(set(processors)) == 2  # cross-attention keeps diffusers' softmax attention
    torch.testing.assert_close(transformer_output(transformer, side=16), expected, rtol=1e-4, atol=1e-5)

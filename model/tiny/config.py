"""sana-tiny's parts: a small 32x DC-AE, an 8-layer linear DiT and a frozen 2-layer Gemma-2 with a
byte-level tokenizer (ByT5Tokenizer needs no vocabulary file). Same classes as the real Sana."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderDC, SanaTransformer2DModel
from transformers import ByT5Tokenizer, Gemma2Config, Gemma2Model

from sanacloud.model.components import Sana
from sanacloud.model.registry import REGISTRY

SPEC = REGISTRY["sana-tiny"]

# Sana's f32c32 DC-AE layout (ResBlocks, then EfficientViT linear-attention blocks) at a fraction
# of the width: 128 px in, 32 x 4 x 4 latents out.
VAE: dict[str, Any] = {
    "in_channels": 3, "latent_channels": 32, "attention_head_dim": 16,
    "encoder_block_types": ["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    "decoder_block_types": ["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    "encoder_block_out_channels": [8, 16, 32, 64, 128, 128],
    "decoder_block_out_channels": [8, 16, 32, 64, 128, 128],
    "encoder_layers_per_block": [1, 1, 1, 1, 1, 1], "decoder_layers_per_block": [1, 1, 1, 1, 1, 1],
    "encoder_qkv_multiscales": [[], [], [], [5], [5], [5]], "decoder_qkv_multiscales": [[], [], [], [5], [5], [5]],
    "upsample_block_type": "interpolate", "downsample_block_type": "Conv",
    "decoder_norm_types": "rms_norm", "decoder_act_fns": "silu", "scaling_factor": 1.0,
}

TEXT = Gemma2Config(vocab_size=384, hidden_size=SPEC.transformer["caption_channels"], num_hidden_layers=2,
                    num_attention_heads=2, num_key_value_heads=1, head_dim=32, intermediate_size=128,
                    max_position_embeddings=512)


def fresh(seed: int = 0) -> Sana:
    """Randomly initialised sana-tiny (what `build` starts from); the text encoder stays frozen."""
    torch.manual_seed(seed)
    text_encoder = Gemma2Model(TEXT).eval().requires_grad_(False)
    return Sana(SPEC, SanaTransformer2DModel(**SPEC.transformer), AutoencoderDC(**VAE), text_encoder,
                ByT5Tokenizer())

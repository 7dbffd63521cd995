"""A Sana model's parts, loaded from a diffusers-format folder (or built fresh for training)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderDC, SanaPipeline, SanaTransformer2DModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sanacloud.model.registry import ModelSpec, check_folder
from sanacloud.model.sampling.schedulers import Solver, make_scheduler
from sanacloud.model.text import PromptEncoder

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Sana:
    spec: ModelSpec
    transformer: SanaTransformer2DModel
    vae: AutoencoderDC
    text_encoder: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase

    def prompt_encoder(self, device: torch.device | str = "cpu") -> PromptEncoder:
        return PromptEncoder(self.tokenizer, self.text_encoder, max_tokens=self.spec.max_tokens,
                             use_chi=self.spec.use_chi, device=device)

    def pipeline(self, solver: Solver = "dpm", flow_shift: float | None = None) -> SanaPipeline:
        scheduler = make_scheduler(solver, flow_shift=self.spec.flow_shift if flow_shift is None else flow_shift)
        return SanaPipeline(tokenizer=self.tokenizer, text_encoder=self.text_encoder, vae=self.vae,
                            transformer=self.transformer, scheduler=scheduler)

    def save(self, folder: Path) -> None:
        """Write a diffusers-format folder that `SanaPipeline.from_pretrained` loads."""
        self.pipeline().save_pretrained(folder, safe_serialization=True)


def load(folder: Path, spec: ModelSpec, *, dtype: torch.dtype | None = None,
         device: torch.device | str = "cpu") -> Sana:
    """Load and check a diffusers-format Sana folder; never touches the network."""
    check_folder(folder, spec)
    pipe = SanaPipeline.from_pretrained(folder, torch_dtype=dtype or DTYPES[spec.dtype], local_files_only=True)
    pipe.to(device)
    for module in (pipe.transformer, pipe.vae, pipe.text_encoder):
        module.eval().requires_grad_(False)
    return Sana(spec, pipe.transformer, pipe.vae, pipe.text_encoder, pipe.tokenizer)

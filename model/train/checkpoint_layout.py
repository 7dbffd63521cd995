"""The names in a checkpoint folder: the trainer writes them, the platform stores the folder's files
under the same relative paths and serves a model from the exported weights. Plain data (no torch),
so the platform imports it.

    <output_dir>/checkpoints/step-000123/
        pytorch_lora_weights.safetensors   a LoRA run's export, as SanaPipeline.load_lora_weights loads it
        transformer/                       a full run's export: the transformer's diffusers folder
        samples/00.png, ...                the validation prompts, rendered
        trainer.pt, rng-<rank>.pt, ...     what exact resume needs
"""

from __future__ import annotations

import re

CHECKPOINTS_DIR = "checkpoints"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
TRANSFORMER_DIR = "transformer"
SAMPLES_DIR = "samples"
TRAINER_STATE = "trainer.pt"

_STEP_FOLDER = re.compile(r"^step-(\d{6,})$")


def step_folder(step: int) -> str:
    return f"step-{step:06d}"


def step_of(folder_name: str) -> int | None:
    """The step a checkpoint folder's name says, or None for any other name (a `.tmp` staging folder)."""
    match = _STEP_FOLDER.match(folder_name)
    return int(match.group(1)) if match else None

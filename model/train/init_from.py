"""A fresh run that starts from another run's checkpoint (TrainSpec.init_from): the weights its export
holds; optimizer, LR schedule, data position and step start afresh (step 0).

What a checkpoint folder needs for it (checkpoint_layout.py's names):

    LoRA run:  <init_from>/pytorch_lora_weights.safetensors   the adapter, of this run's rank and targets
    full run:  <init_from>/transformer/*.safetensors           the transformer's weights (config.json unread)

An export holds what the checkpoint's samples showed: the EMA weights when that run averaged them.
A run that has a checkpoint of its own resumes from it and ignores init_from.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from sanacloud.model.train import checkpoint_layout as layout
from sanacloud.model.train import checkpoints
from sanacloud.model.train.lora import load_lora_export
from sanacloud.model.train.spec import TrainSpec


def starting_checkpoint(spec: TrainSpec) -> Path | None:
    """The folder whose weights the run starts from: init_from, unless the run resumes (resume wins)."""
    if spec.init_from is None or checkpoints.latest(spec.output_dir) is not None:
        return None
    return spec.init_from


def load_weights(spec: TrainSpec, transformer: torch.nn.Module, folder: Path) -> None:
    """The checkpoint's exported weights into the transformer: into its adapter (added already) for a
    LoRA run, into the transformer itself for a full run."""
    if spec.type == "lora":
        export = folder / layout.LORA_WEIGHTS
        if not export.is_file():
            raise FileNotFoundError(f"init_from {folder} has no {layout.LORA_WEIGHTS}: a LoRA run starts from a LoRA "
                                    "run's checkpoint")
        load_lora_export(transformer, export)
    else:
        load_transformer_export(transformer, folder / layout.TRANSFORMER_DIR)


def load_transformer_export(transformer: torch.nn.Module, folder: Path) -> None:
    """A transformer's diffusers folder (one weights file or shards) into `transformer`, which must be
    of the same architecture; its weights are cast to the transformer's dtype."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"init_from {folder.parent} has no {layout.TRANSFORMER_DIR}/*.safetensors: a full "
                                "run starts from a full run's checkpoint")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(file))
    own = transformer.state_dict()
    differing = sorted(k for k in state.keys() | own.keys() if k not in state or k not in own
                       or state[k].shape != own[k].shape)
    if differing:
        raise ValueError(f"init_from {folder.parent}: its transformer is not this base model's architecture "
                         f"({len(differing)} weights differ, e.g. {differing[:3]})")
    transformer.load_state_dict(state)

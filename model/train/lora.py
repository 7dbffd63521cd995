"""LoRA adapters on the Sana transformer (peft), and their diffusers-loadable export.

Default targets: the attention projections (self and cross) and the Mix-FFN's pointwise convs;
never the 3x3 depthwise conv. Exports carry the `transformer.` prefix that
`SanaPipeline.load_lora_weights` needs (a raw peft state dict is silently ignored by it).

An export has its trained scaling (alpha / rank, or whatever peft computed per layer) folded into
`lora_B`, and adapter metadata that says scale 1 (`lora_alpha = r`). So every loader gets the
trained model: diffusers' `load_lora_weights`, which reads the metadata, and any loader that
assumes alpha = rank, as diffusers does for a file without metadata. `load_lora_export` reads one
back into a run's adapter (TrainSpec.init_from), dividing each lora_B by that adapter's scaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import torch
from diffusers import SanaPipeline, SanaTransformer2DModel
from peft import LoraConfig
from peft.tuners.lora import LoraLayer
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file

from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from sanacloud.model.train.spec import LoraSpec, LoraTarget

ADAPTER = "default"
EXPORT_PREFIX = "transformer."  # what SanaPipeline.load_lora_weights needs on every key


def add_lora(transformer: SanaTransformer2DModel, spec: LoraSpec) -> list[torch.nn.Parameter]:
    """Freeze the transformer, add an adapter, and return the adapter's (fp32) parameters."""
    transformer.requires_grad_(False)
    transformer.add_adapter(LoraConfig(
        r=spec.rank, lora_alpha=spec.alpha or spec.rank, lora_dropout=spec.dropout,
        target_modules=_target_pattern(spec.targets), init_lora_weights="gaussian"), adapter_name=ADAPTER)
    params = [p for p in transformer.parameters() if p.requires_grad]
    for param in params:
        param.data = param.data.float()
    return params


def _target_pattern(targets: Sequence[str]) -> str:
    # A regex over full module names, so that e.g. "to_out.0" matches only the output projection.
    names = "|".join(t.replace(".", r"\.") for t in targets)
    return rf".*\.({names})$"


def lora_state_dict(transformer: SanaTransformer2DModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(transformer).items()}


def load_lora_state_dict(transformer: SanaTransformer2DModel, state: dict[str, torch.Tensor]) -> None:
    result = set_peft_model_state_dict(transformer, state, adapter_name=ADAPTER)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise ValueError(f"LoRA state has keys the model lacks: {unexpected[:5]}")


def export_lora(transformer: SanaTransformer2DModel, folder: Path) -> Path:
    """Write `folder/pytorch_lora_weights.safetensors` in the format SanaPipeline loads, at scale 1."""
    SanaPipeline.save_lora_weights(folder, weight_name=LORA_WEIGHTS, transformer_lora_layers=_scale_folded(transformer),
                                   transformer_lora_adapter_metadata=_unit_scale_metadata(transformer),
                                   safe_serialization=True)
    return folder / LORA_WEIGHTS


def load_lora_export(transformer: SanaTransformer2DModel, path: Path) -> None:
    """An export's adapter into the transformer's (added by add_lora: of the same rank and targets, or
    ValueError naming both), each lora_B divided by this adapter's scaling: the transformer computes
    what the export does, and trains on with this run's alpha."""
    exported = {key.removeprefix(EXPORT_PREFIX): value for key, value in load_file(path).items()}
    own = lora_state_dict(transformer)
    if {k: v.shape for k, v in exported.items()} != {k: v.shape for k, v in own.items()}:
        raise ValueError(f"{path} holds an adapter of {_described(exported)}; this run's LoRA is of {_described(own)}: "
                         "a run starts from an adapter of its own rank and targets")
    load_lora_state_dict(transformer, _scaled(transformer, exported, unfold=True))


def _described(state: dict[str, torch.Tensor]) -> str:
    """An adapter's rank(s) and targets, e.g. "rank 4 on to_k, to_q (24 layers)"."""
    down = ".lora_A.weight"  # (rank, in_features) or, in a conv, (rank, in_channels, 1, 1)
    layers = {key.removesuffix(down): value for key, value in state.items() if key.endswith(down)}
    ranks = ", ".join(str(rank) for rank in sorted({int(value.shape[0]) for value in layers.values()}))
    targets = sorted({target for name in layers for target in get_args(LoraTarget) if name.endswith(f".{target}")})
    return f"rank {ranks} on {', '.join(targets)} ({len(layers)} layers)"


def _scale_folded(transformer: SanaTransformer2DModel) -> dict[str, torch.Tensor]:
    """The adapter's weights with each layer's scaling multiplied into its lora_B (new tensors)."""
    return _scaled(transformer, lora_state_dict(transformer), unfold=False)


def _scaled(transformer: SanaTransformer2DModel, state: dict[str, torch.Tensor], *,
            unfold: bool) -> dict[str, torch.Tensor]:
    """`state` (an adapter of the transformer's layout) with each lora_B multiplied by its layer's
    scaling, or divided by it (`unfold`); new tensors."""
    state = dict(state)
    for name, module in transformer.named_modules():
        if isinstance(module, LoraLayer) and ADAPTER in module.scaling:
            scaling = module.scaling[ADAPTER]
            for key in [k for k in state if k.startswith(f"{name}.lora_B.")]:
                state[key] = state[key] / scaling if unfold else state[key] * scaling
    return state


def _unit_scale_metadata(transformer: SanaTransformer2DModel) -> dict[str, object]:
    """The `LoraConfig` kwargs diffusers builds the adapter from, with every layer at scale 1.

    The keys are those diffusers infers from a state dict without metadata (plus `use_rslora`), so
    that peft versions older or newer than ours accept them.
    """
    config = transformer.peft_config[ADAPTER]
    targets = config.target_modules
    return {"r": config.r, "lora_alpha": config.r, "rank_pattern": dict(config.rank_pattern),
            "alpha_pattern": dict(config.rank_pattern), "use_rslora": False, "use_dora": config.use_dora,
            "lora_bias": config.lora_bias, "target_modules": targets if isinstance(targets, str) else sorted(targets)}

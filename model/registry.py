"""Named Sana base models: architecture, native resolution and dtype rules.

Official checkpoints come as diffusers-format folders supplied by the operator (a local path, or
copied from the object store by the platform); nothing is ever fetched from a hub. `check_folder`
compares a folder's configs with the registry and says what is missing or wrong.
`sana-tiny` is this package's own small model, trained by `python -m sanacloud.model.tiny.build`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a diffusers-format Sana folder holds (model_index.json names the same parts).
PARTS = ("transformer", "vae", "text_encoder", "tokenizer", "scheduler")
# Transformer config keys that fix the architecture; a folder must agree on all of them.
ARCHITECTURE_KEYS = ("in_channels", "out_channels", "num_layers", "num_attention_heads", "attention_head_dim",
                     "num_cross_attention_heads", "cross_attention_head_dim", "cross_attention_dim",
                     "caption_channels", "patch_size")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    transformer: dict[str, Any]  # SanaTransformer2DModel config
    resolution: int  # native: latent side = resolution // 32
    dtype: str  # the released checkpoint's dtype; mixed precision on GPU follows it
    flow_shift: float
    max_tokens: int = 300  # text tokens kept per prompt (the paper: up to 300)
    use_chi: bool = True  # prefix prompts with the complex human instruction
    vae_latent_channels: int = 32
    tokenizer: str = "gemma"  # "gemma" (a folder's tokenizer) or "byt5" (needs no files)

    @property
    def latent_size(self) -> int:
        return self.resolution // 32


def _sana(layers: int, heads: int, cross_heads: int, cross_head_dim: int, sample: int) -> dict[str, Any]:
    width = heads * 32
    return {"in_channels": 32, "out_channels": 32, "num_layers": layers, "num_attention_heads": heads,
            "attention_head_dim": 32, "num_cross_attention_heads": cross_heads,
            "cross_attention_head_dim": cross_head_dim, "cross_attention_dim": width, "caption_channels": 2304,
            "mlp_ratio": 2.5, "sample_size": sample, "patch_size": 1}


def _600m(sample: int) -> dict[str, Any]:
    return _sana(28, 36, 16, 72, sample)


def _1600m(sample: int) -> dict[str, Any]:
    return _sana(20, 70, 20, 112, sample)


TINY_TRANSFORMER: dict[str, Any] = {
    "in_channels": 32, "out_channels": 32, "num_layers": 8, "num_attention_heads": 6, "attention_head_dim": 32,
    "num_cross_attention_heads": 6, "cross_attention_head_dim": 32, "cross_attention_dim": 192,
    "caption_channels": 64, "mlp_ratio": 2.5, "sample_size": 4, "patch_size": 1,
}

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("sana-tiny", TINY_TRANSFORMER, resolution=128, dtype="float32", flow_shift=1.0, max_tokens=48,
                  use_chi=False, tokenizer="byt5"),
        ModelSpec("sana-600m-512", _600m(16), resolution=512, dtype="float16", flow_shift=1.0),
        ModelSpec("sana-600m-1024", _600m(32), resolution=1024, dtype="float16", flow_shift=3.0),
        ModelSpec("sana-1600m-1024", _1600m(32), resolution=1024, dtype="float16", flow_shift=3.0),
        ModelSpec("sana-1600m-2048", _1600m(64), resolution=2048, dtype="bfloat16", flow_shift=3.0),
        ModelSpec("sana-1600m-4096", _1600m(128), resolution=4096, dtype="bfloat16", flow_shift=3.0),
    )
}


class ModelFolderError(ValueError):
    """A model folder that does not hold what its registry entry needs."""


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}") from None


def check_folder(folder: Path, spec: ModelSpec) -> None:
    """Raise ModelFolderError listing every missing part and every config value that disagrees."""
    problems: list[str] = []
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is not a folder")
    for part in PARTS:
        if not (folder / part).is_dir():
            problems.append(f"missing subfolder {part}/")
    transformer = _config(folder / "transformer" / "config.json", problems)
    if transformer is not None:
        for key in ARCHITECTURE_KEYS:
            if transformer.get(key) != spec.transformer[key]:
                problems.append(f"transformer/config.json {key} is {transformer.get(key)!r}, "
                                f"{spec.name} has {spec.transformer[key]!r}")
    vae = _config(folder / "vae" / "config.json", problems)
    if vae is not None and vae.get("latent_channels") != spec.vae_latent_channels:
        problems.append(f"vae/config.json latent_channels is {vae.get('latent_channels')!r}, "
                        f"{spec.name} needs {spec.vae_latent_channels} (a 32x DC-AE)")
    text = _config(folder / "text_encoder" / "config.json", problems)
    if text is not None and text.get("hidden_size") != spec.transformer["caption_channels"]:
        problems.append(f"text_encoder/config.json hidden_size is {text.get('hidden_size')!r}, the transformer "
                        f"reads {spec.transformer['caption_channels']}-wide captions")
    if problems:
        raise ModelFolderError(f"{folder} is not a {spec.name} model: " + "; ".join(problems))


def _config(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        if path.parent.is_dir():
            problems.append(f"missing {path.parent.name}/{path.name}")
        return None
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        problems.append(f"{path.parent.name}/{path.name} is not valid JSON ({error})")
        return None
    return config

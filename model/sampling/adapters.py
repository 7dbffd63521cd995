"""LoRA adapters on one loaded base, served merged into its weights.

A batch runs through one adapter, so the active adapter is fused: each layer it targets holds
`W + scale·B·A`, and a denoising step costs what a base step costs (PEFT's unfused layers ran two
extra matmuls per layer and doubled an adapter image's time). Fusing never changes the base in
place: the first adapter on a layer keeps a copy of its base weight, and every switch recomputes
the layer from that copy (one `addmm` per layer, or a copy back for the bare base), so a thousand
switches leave the base bit for bit as loaded. The price is that copy: one extra set of the
targeted weights in memory while any adapter is loaded, whatever their number (each adapter
itself is only its rank-r factors).

Files are read by diffusers' own loader (every format it reads, with its scaling rules); the
factors are taken from the PEFT layers it builds, and the layers are removed again at once, so
the served transformer stays a plain module (a compiled one keeps its graphs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import SanaPipeline
from peft.tuners.lora import LoraLayer


@dataclass(frozen=True)
class Factors:
    """One layer's update, `scale · up @ down`, as 2-D matrices (a 1x1 conv is a linear layer)."""

    down: torch.Tensor  # lora_A: rank x in
    up: torch.Tensor  # lora_B: out x rank
    scale: float


class Adapters:
    def __init__(self, pipe: SanaPipeline) -> None:
        self.pipe = pipe
        self.factors: dict[str, dict[str, Factors]] = {}  # adapter name → layer path → its update
        self.base_weights: dict[str, torch.Tensor] = {}  # layer path → the base weight, as loaded
        self.active: str | None = None

    @property
    def loaded(self) -> set[str]:
        return set(self.factors)

    def load(self, name: str, path: Path) -> None:
        """Load a diffusers-format LoRA file (or folder) under `name`; a loaded name is kept."""
        if name in self.factors:
            return
        transformer = self.pipe.transformer
        self.pipe.load_lora_weights(path, adapter_name=name)
        try:
            factors = {layer: _factors(module, name, layer) for layer, module in transformer.named_modules()
                       if isinstance(module, LoraLayer) and name in module.lora_A}
        finally:
            self.pipe.unload_lora_weights()  # puts the original layers back, untouched
        layers = dict(transformer.named_modules())
        for layer in factors:
            if layer not in self.base_weights:
                self.base_weights[layer] = _weight(layers[layer]).detach().clone()
        self.factors[name] = factors

    def activate(self, name: str | None) -> None:
        """Serve with adapter `name`, or the bare base model when None."""
        if name is not None and name not in self.factors:
            raise KeyError(f"adapter {name!r} is not loaded")
        if name == self.active:
            return
        wanted = self.factors.get(name, {}) if name is not None else {}
        touched = set(wanted) | set(self.factors.get(self.active, {}) if self.active is not None else {})
        layers = dict(self.pipe.transformer.named_modules())
        with torch.no_grad():
            for layer in touched:
                _write(_weight(layers[layer]), self.base_weights[layer], wanted.get(layer))
        self.active = name

    def unload(self, name: str) -> None:
        if name not in self.factors:
            return
        if self.active == name:
            self.activate(None)
        del self.factors[name]
        still_targeted = {layer for factors in self.factors.values() for layer in factors}
        for layer in set(self.base_weights) - still_targeted:  # it holds its base weight again
            del self.base_weights[layer]


def _weight(module: torch.nn.Module) -> torch.Tensor:
    weight = module.weight
    assert isinstance(weight, torch.Tensor)
    return weight


def _write(weight: torch.Tensor, base: torch.Tensor, update: Factors | None) -> None:
    """weight ← base (+ scale·up@down), computed from the kept base so that nothing accumulates."""
    if update is None:
        weight.copy_(base)
        return
    flat = weight.view(weight.shape[0], -1)
    torch.addmm(base.view(flat.shape), update.up, update.down, alpha=update.scale, out=flat)


def _factors(module: LoraLayer, name: str, layer: str) -> Factors:
    base = module.get_base_layer()
    one_by_one = isinstance(base, torch.nn.Conv2d) and base.kernel_size == (1, 1) and base.groups == 1
    if not (isinstance(base, torch.nn.Linear) or one_by_one) or name in module.lora_variant \
            or module.lora_bias.get(name) or getattr(module, "fan_in_fan_out", False):
        raise ValueError(f"adapter {name!r}: layer {layer} is not a plain LoRA on a linear or 1x1 conv layer "
                         f"(DoRA, LoRA biases and other layers are not served)")
    weight = _weight(base)
    down, up = module.lora_A[name].weight, module.lora_B[name].weight
    return Factors(down=down.detach().reshape(down.shape[0], -1).to(weight.device, weight.dtype),
                   up=up.detach().reshape(up.shape[0], -1).to(weight.device, weight.dtype),
                   scale=float(module.scaling[name]))

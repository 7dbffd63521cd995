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
the served transformer stays a plain module (a compiled one keeps its graphs). A file's metadata
may name an initialisation that rewrites the base weights as the adapter is built (PiSSA, OLoRA,
...): that is turned off, as a tenant's file must never change the base every tenant shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import SanaPipeline
from peft.tuners.lora import LoraLayer


@dataclass(frozen=True)
class Factors:
    """One layer's update, `scale · up @ down`, as 2-D fp32 matrices (a 1x1 conv is a linear layer)."""

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
        state, metadata = self.pipe.lora_state_dict(path, return_lora_metadata=True)
        try:
            self.pipe.load_lora_into_transformer(state, transformer=transformer, adapter_name=name, _pipeline=self.pipe,
                                                 metadata=_base_untouched(metadata))
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


def _base_untouched(metadata: dict[str, object] | None) -> dict[str, object] | None:
    """The adapter's LoraConfig with an initialisation that leaves the base alone (the weights loaded
    next replace whatever it drew)."""
    if metadata is None:
        return None
    return {key: False if key.endswith("init_lora_weights") else value for key, value in metadata.items()}


def _write(weight: torch.Tensor, base: torch.Tensor, update: Factors | None) -> None:
    """weight ← base (+ scale·up@down), from the kept base so that nothing accumulates; the sum is
    taken in fp32 and rounded to the weight's dtype once."""
    if update is None:
        weight.copy_(base)
        return
    flat = weight.view(weight.shape[0], -1)
    flat.copy_(torch.addmm(base.view(flat.shape).float(), update.up, update.down, alpha=update.scale))


def _factors(module: LoraLayer, name: str, layer: str) -> Factors:
    base = module.get_base_layer()
    one_by_one = isinstance(base, torch.nn.Conv2d) and base.kernel_size == (1, 1) and base.groups == 1
    if not (isinstance(base, torch.nn.Linear) or one_by_one) or name in module.lora_variant \
            or module.lora_bias.get(name) or getattr(module, "fan_in_fan_out", False):
        raise ValueError(f"adapter {name!r}: layer {layer} is not a plain LoRA on a linear or 1x1 conv layer "
                         f"(DoRA, LoRA biases and other layers are not served)")
    weight = _weight(base)
    down, up = module.lora_A[name].weight, module.lora_B[name].weight
    return Factors(down=down.detach().reshape(down.shape[0], -1).to(weight.device, torch.float32),
                   up=up.detach().reshape(up.shape[0], -1).to(weight.device, torch.float32),
                   scale=float(module.scaling[name]))

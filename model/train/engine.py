"""How an optimizer step happens: plain PyTorch (one process; LoRA and small full runs) or
DeepSpeed ZeRO (full training, one or more processes). The loop sees one interface.

Both engines take a spec already decided for its device (`TrainSpec.for_device`): a concrete
mixed precision and compile choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Protocol

import torch

from sanacloud.model.train.spec import TrainSpec

AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


def lr_lambda(spec: TrainSpec) -> Any:
    def factor(step: int) -> float:
        if step < spec.warmup_steps:
            return (step + 1) / (spec.warmup_steps + 1)
        progress = (step - spec.warmup_steps) / max(1, spec.steps - spec.warmup_steps)
        if spec.lr_scheduler == "linear":
            return max(0.0, 1.0 - progress)
        if spec.lr_scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return factor


def adamw(params: list[torch.nn.Parameter], spec: TrainSpec, device: torch.device) -> torch.optim.AdamW:
    """AdamW with one fused kernel for all parameters on CUDA; on a CPU the multi-tensor (foreach)
    implementation, which gives the same numbers as the per-tensor one."""
    implementation = _adamw_implementation(device)
    return torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay,
                             fused=implementation["fused"], foreach=implementation["foreach"])


def _adamw_implementation(device: torch.device) -> dict[str, bool | None]:
    cuda = device.type == "cuda"
    return {"fused": True if cuda else None, "foreach": None if cuda else True}


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any], device: torch.device) -> None:
    """A saved optimizer state, keeping this device's implementation: a state dict carries the
    saver's (fused on a GPU, or none in checkpoints from before it was chosen)."""
    # Set before loading: torch places each parameter's step counter by its group's implementation.
    implementation = _adamw_implementation(device)
    optimizer.load_state_dict({**state, "param_groups": [{**group, **implementation}
                                                         for group in state["param_groups"]]})


def autocast(spec: TrainSpec, device: torch.device) -> AbstractContextManager[Any]:
    dtype = AUTOCAST.get(spec.mixed_precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()


def training_forward(module: torch.nn.Module, spec: TrainSpec) -> Callable[..., Any]:
    """What the loop calls for a prediction: the module, or with `spec.compile` a compiled wrapper
    sharing its parameters. The module itself stays uncompiled, so its state dict keys carry no
    `_orig_mod.` prefix and sampling (eval mode, other shapes) triggers no recompiles."""
    return torch.compile(module) if spec.compile is True else module


def allow_fast_cuda_math() -> None:
    """TF32 for fp32 matmuls (Ampere and later; cuDNN convolutions use it by default): what stays
    fp32 under autocast, and fp32 runs, go through the tensor cores at a precision training does
    not notice."""
    torch.set_float32_matmul_precision("high")


class Engine(Protocol):
    module: torch.nn.Module
    forward: Callable[..., Any]  # the module, or its compiled wrapper (training_forward)

    def autocast(self) -> AbstractContextManager[Any]: ...

    def backward(self, loss: torch.Tensor) -> None: ...

    def step(self) -> torch.Tensor | float:
        """Clip, take an optimizer step and advance the LR schedule; returns the grad norm (a tensor
        still on the device where possible: reading it is a host sync)."""

    def lr(self) -> float: ...

    def save(self, folder: Path) -> None: ...

    def load(self, folder: Path) -> None: ...


class PlainEngine:
    def __init__(self, module: torch.nn.Module, params: list[torch.nn.Parameter], spec: TrainSpec,
                 device: torch.device) -> None:
        self.module = module
        self.forward = training_forward(module, spec)
        self.params = params
        self.spec = spec
        self.device = device
        self.optimizer = adamw(params, spec, device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(spec))
        # fp16 needs loss scaling against underflowing gradients; bf16 has fp32's range and does not.
        self.scaler = torch.amp.GradScaler(device.type, enabled=spec.mixed_precision == "fp16")

    def autocast(self) -> AbstractContextManager[Any]:
        return autocast(self.spec, self.device)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss / self.spec.gradient_accumulation_steps).backward()

    def step(self) -> torch.Tensor:
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.spec.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return norm

    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def save(self, folder: Path) -> None:
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict()}, folder / "optimizer.pt")

    def load(self, folder: Path) -> None:
        state = torch.load(folder / "optimizer.pt", map_location=self.device, weights_only=True)
        load_optimizer_state(self.optimizer, state["optimizer"], self.device)
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])

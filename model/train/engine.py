"""How an optimizer step happens: plain PyTorch (one process; LoRA and small full runs) or
DeepSpeed ZeRO (full training, one or more processes). The loop sees one interface."""

from __future__ import annotations

import math
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


class Engine(Protocol):
    module: torch.nn.Module

    def autocast(self) -> AbstractContextManager[Any]: ...

    def backward(self, loss: torch.Tensor) -> None: ...

    def step(self) -> float:
        """Clip, take an optimizer step and advance the LR schedule; returns the grad norm."""

    def lr(self) -> float: ...

    def save(self, folder: Path) -> None: ...

    def load(self, folder: Path) -> None: ...


class PlainEngine:
    def __init__(self, module: torch.nn.Module, params: list[torch.nn.Parameter], spec: TrainSpec,
                 device: torch.device) -> None:
        self.module = module
        self.params = params
        self.spec = spec
        self.device = device
        self.optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(spec))
        self.scaler = torch.amp.GradScaler(device.type, enabled=spec.mixed_precision == "fp16")

    def autocast(self) -> AbstractContextManager[Any]:
        dtype = AUTOCAST.get(self.spec.mixed_precision)
        return torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss / self.spec.gradient_accumulation_steps).backward()

    def step(self) -> float:
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.spec.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return float(norm)

    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def save(self, folder: Path) -> None:
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict()}, folder / "optimizer.pt")

    def load(self, folder: Path) -> None:
        state = torch.load(folder / "optimizer.pt", map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])

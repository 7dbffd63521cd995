"""Full training through DeepSpeed ZeRO (stage 2 or 3), one process or several under torchrun.

On CPU it runs with DS_ACCELERATOR=cpu and the gloo backend, which is how the tests exercise it.
The optimizer and LR schedule are ours (torch AdamW, fused on CUDA, + the spec's schedule), handed
to DeepSpeed. With fp16/bf16 DeepSpeed holds the module in that dtype (fp32 master weights in the
optimizer); the forward runs under autocast, which casts the fp32 latents and text embeddings the
loop feeds to the weights' dtype.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import os
import signal
import sys
import tempfile
import uuid
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch

from sanacloud.model.train.divergence import LossScaleExhausted
from sanacloud.model.train.engine import adamw, autocast, lr_lambda, training_forward
from sanacloud.model.train.spec import TrainSpec

TAG = "zero"
PR_SET_PDEATHSIG = 1
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets for env://
# What DeepSpeed's fp16 loss scaler raises (a bare Exception) when it overflows at its minimum scale.
MINIMUM_SCALE_ERROR = "loss scale already at minimum"


def deepspeed_config(spec: TrainSpec) -> dict[str, Any]:
    return {
        "train_micro_batch_size_per_gpu": spec.batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
        "gradient_clipping": spec.max_grad_norm,
        "zero_optimization": {"stage": spec.deepspeed.zero_stage, "contiguous_gradients": True,
                              "overlap_comm": False},
        "fp16": {"enabled": spec.mixed_precision == "fp16", "initial_scale_power": 16},
        "bf16": {"enabled": spec.mixed_precision == "bf16"},
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }


def init_distributed(device: torch.device) -> None:
    """Join the process group torchrun set up, or make a one-process group."""
    if device.type == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    rendezvous: dict[str, Any] = {}
    if all(name in os.environ for name in LAUNCHER_VARIABLES):
        _die_with_launcher()
    else:
        # One process: rendezvous through a file, not a port (a free port can be taken before it is bound).
        os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"})
        store = Path(tempfile.gettempdir()) / f"sanacloud-rendezvous-{uuid.uuid4().hex}"
        atexit.register(store.unlink, missing_ok=True)
        rendezvous = {"init_method": f"file://{store}", "rank": 0, "world_size": 1, "auto_mpi_discovery": False}
    import deepspeed

    if device.type == "cpu":
        # DeepSpeed would JIT-compile (ninja, minutes) a shared-memory all-reduce for CPUs;
        # gloo's is enough for CPU runs, which are for tests and laptops.
        # (import_module: the package's attribute `torch` is torch itself, not this submodule)
        comm: Any = importlib.import_module("deepspeed.comm.torch")
        comm.build_shm_op = lambda: None
    deepspeed.init_distributed(dist_backend="gloo" if device.type == "cpu" else "nccl", **rendezvous)


def _die_with_launcher() -> None:
    """torchrun starts each rank in a session of its own: a rank would outlive a launcher killed with
    its worker, training on and holding its GPU. Linux kills it with its parent (PR_SET_PDEATHSIG)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ZeroEngine:
    def __init__(self, module: torch.nn.Module, params: list[torch.nn.Parameter], spec: TrainSpec,
                 device: torch.device) -> None:
        import deepspeed

        optimizer = adamw(params, spec, device)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(spec))
        self.engine, _, _, _ = deepspeed.initialize(model=module, optimizer=optimizer, lr_scheduler=scheduler,
                                                    config=deepspeed_config(spec))
        self.module = self.engine.module
        self.forward = training_forward(self.module, spec)
        self.spec = spec
        self.device = device

    def autocast(self) -> AbstractContextManager[Any]:
        return autocast(self.spec, self.device)

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss)
        try:
            self.engine.step()  # DeepSpeed steps the optimizer only at the accumulation boundary
        except Exception as error:
            if MINIMUM_SCALE_ERROR in str(error):
                raise LossScaleExhausted(str(error)) from error
            raise

    def step(self) -> torch.Tensor | float:
        norm = self.engine.get_global_grad_norm()
        return norm if norm is not None else float("nan")

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def save(self, folder: Path) -> None:
        self.engine.save_checkpoint(str(folder), tag=TAG)

    def load(self, folder: Path) -> None:
        self.engine.load_checkpoint(str(folder), tag=TAG, load_optimizer_states=True, load_lr_scheduler_states=True)

    def gathered(self) -> AbstractContextManager[Any]:
        """All parameters present on every rank (ZeRO-3 partitions them); enter on every rank."""
        if self.spec.deepspeed.zero_stage < 3:
            return nullcontext()
        import deepspeed

        return deepspeed.zero.GatheredParameters(list(self.module.parameters()), modifier_rank=None)

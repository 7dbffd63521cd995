"""The divergence guard: a run whose loss or grad norm stops being finite fails, naming the first such
step and what to change, instead of training on; with `on_divergence: continue` it warns once.

No step reads the device for it: `observe` keeps the first non-finite step in tensors on the device
(updated with torch.where), and `check` reads them, reduced over ranks, at the loop's read points:
every logging step and before every checkpoint. So a run fails within one logging interval, and no
checkpoint holds diverged weights.

fp16 with a loss scaler (torch's GradScaler, or DeepSpeed's): a non-finite grad norm is how the
scaler finds an overflow. It skips that step, leaving the weights as they were, and halves its
scale; a healthy run does so a few times at its start (from 2^16 down to a scale its gradients fit)
and rarely after. So there a non-finite grad norm alone is no divergence, but MAX_SKIPPED_IN_A_ROW
of them in a row are: the scale has then fallen by 2^16, from where it starts to 1, where DeepSpeed's
scaler gives up (ZeroEngine reports that as LossScaleExhausted, the same divergence). A non-finite
loss fails every precision: the forward overflowed, or the weights already are NaN.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from sanacloud.model.train.events import RunFailed, emit
from sanacloud.model.train.spec import TrainSpec

MAX_SKIPPED_IN_A_ROW = 16
FINITE, NAN, INF = 0, 1, 2
# What diverged. Across ranks the smallest (step, what) wins: at one step, the loss before the grad norm.
LOSS, GRAD_NORM, LOSS_SCALE = 1, 2, 3
QUANTITY = {LOSS: "loss", GRAD_NORM: "grad_norm", LOSS_SCALE: "loss_scale"}
NONE_YET = 2**62  # above any encoded divergence (step * 16 + what * 4 + value)


class Diverged(RunFailed):
    """The run stops: its error event says at which step, what, and what to try."""


class LossScaleExhausted(Exception):
    """DeepSpeed's fp16 loss scaler overflowed at its minimum scale and refuses to go on."""


class DivergenceGuard:
    def __init__(self, spec: TrainSpec, device: torch.device, checkpoint_dtype: str) -> None:
        """`spec` decided for its device (a concrete mixed precision); `checkpoint_dtype` the base
        checkpoint's (the registry's ModelSpec.dtype), which decides whether bf16 is worth suggesting."""
        self.spec, self.device, self.checkpoint_dtype = spec, device, checkpoint_dtype
        self.scaled = spec.mixed_precision == "fp16"
        self.first = torch.zeros(3, dtype=torch.int64, device=device)  # step (0: none yet), what, NAN or INF
        self.skipped = torch.zeros(2, dtype=torch.int64, device=device)  # steps skipped in a row, the first
        self.checked_at = 0
        self.warned = False

    @torch.no_grad()
    def observe(self, step: int, losses: list[torch.Tensor], grad_norm: torch.Tensor | float) -> None:
        """Note step `step`'s micro-batch losses and grad norm, without reading them."""
        loss = _kind(torch.stack(losses).sum())
        grad = _kind(torch.as_tensor(grad_norm, device=self.device))
        if self.scaled:
            skipped = grad != FINITE
            in_a_row = torch.where(skipped, self.skipped[0] + 1, 0)
            since = torch.where(skipped & (in_a_row == 1), step, self.skipped[1])
            self.skipped = torch.stack([in_a_row, since])
            what = torch.where(loss != FINITE, LOSS, torch.where(in_a_row >= MAX_SKIPPED_IN_A_ROW, LOSS_SCALE, 0))
            at = torch.where(what == LOSS_SCALE, since, step)
        else:
            what = torch.where(loss != FINITE, LOSS, torch.where(grad != FINITE, GRAD_NORM, 0))
            at = torch.full((), step, dtype=torch.int64, device=self.device)
        found = torch.stack([at, what, torch.where(loss != FINITE, loss, grad)])
        self.first = torch.where((self.first[0] == 0) & (what != 0), found, self.first)

    def check(self, step: int, world: int) -> None:
        """Read what `observe` found (every rank, at the same step): raise Diverged, or with
        on_divergence continue warn once and train on."""
        if self.warned or step == self.checked_at:
            return
        self.checked_at = step
        at, what, value = _first_across_ranks(self.first, world)
        if not at:
            return
        fields = {"step": at, "reason": "diverged", "quantity": QUANTITY[what], "value": _value_name(value),
                  "detected_at": step, "mixed_precision": self.spec.mixed_precision}
        message = f"{self._what_happened(at, what, value)}; {self._advice()}"
        if self.spec.on_divergence == "stop":
            raise Diverged(message, **fields)
        emit("warning", message=f"{message} (on_divergence is continue: training on)", **fields)
        self.warned = True

    def loss_scale_exhausted(self, step: int) -> Diverged:
        """DeepSpeed's scaler gave up at `step`: a divergence whatever on_divergence says."""
        message = (f"the fp16 loss scaler reached its minimum at step {step}: the gradients overflowed at every "
                   f"scale; {self._advice()}")
        return Diverged(message, step=step, reason="diverged", quantity="loss_scale", value="inf", detected_at=step,
                        mixed_precision=self.spec.mixed_precision)

    def _what_happened(self, at: int, what: int, value: int) -> str:
        if what == LOSS_SCALE:
            return (f"the fp16 loss scaler skipped {MAX_SKIPPED_IN_A_ROW} steps in a row from step {at} (grad norm "
                    f"{_value_name(value)}: the gradients overflowed at every scale)")
        return f"{'loss' if what == LOSS else 'grad norm'} became {_value_name(value)} at step {at}"

    def _advice(self) -> str:
        lr = f"a lower learning_rate (now {self.spec.learning_rate:g})"
        if self.spec.mixed_precision == "fp16":
            # Training an fp16 checkpoint in bf16 degrades it (DESIGN.md §8); fp32 is its way out.
            other = "fp32" if self.checkpoint_dtype == "float16" else "bf16"
            return f"fp16 is unstable for this model: try mixed_precision {other} or {lr}"
        return f"training diverged: try {lr} or a smaller max_grad_norm (now {self.spec.max_grad_norm:g})"


def _kind(value: torch.Tensor) -> torch.Tensor:
    return torch.where(value.isnan(), NAN, torch.where(value.isinf(), INF, FINITE))


def _value_name(value: int) -> str:
    return "NaN" if value == NAN else "inf"


def _first_across_ranks(first: torch.Tensor, world: int) -> tuple[int, int, int]:
    """(step, what, value) of the earliest divergence any rank saw (their losses differ: each has its
    own share of the batch); step 0 when none did."""
    if world == 1:
        at, what, value = first.tolist()
        return at, what, value
    encoded = torch.where(first[0] == 0, NONE_YET, first[0] * 16 + first[1] * 4 + first[2])
    dist.all_reduce(encoded, op=dist.ReduceOp.MIN)
    code: Any = encoded.item()
    if code == NONE_YET:
        return 0, 0, 0
    return code // 16, code // 4 % 4, code % 4

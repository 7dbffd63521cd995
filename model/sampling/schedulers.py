"""Sana's two samplers, as diffusers schedulers, and the sampling loop outside SanaPipeline.

Flow matching as Sana trains it (diffusers' convention): x_σ = (1-σ)·x0 + σ·ε, σ = 1 is pure
noise, σ = 0 is data, and the transformer predicts the velocity v = ε - x0. Sampling integrates
dx/dσ = v(x, σ) from σ = 1 to σ = 0.

- "dpm" (Flow-DPM-Solver, the paper's sampler and the one the official diffusers-format Sana
  checkpoints ship) is diffusers' `DPMSolverMultistepScheduler` with exactly the kwargs that
  diffusers' `scripts/convert_sana_to_diffusers.py` writes into their `scheduler_config.json`:
  `use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=<3.0, or 6.0 for 4K>`,
  the rest at diffusers' defaults, spelled out below so that a change of default in diffusers
  cannot change our sampler silently.
- "euler" (Flow-Euler) is `FlowMatchEulerDiscreteScheduler(shift=flow_shift)`, as the same
  script builds it for `--scheduler_type flow-euler`.

The two schedules differ at the ends, as diffusers makes them: Flow-DPM-Solver's n steps start at
σ = shift(0.999) and take their last step to σ = 0 (first order there); Flow-Euler's start at
σ = 1 and end with a step from shift(shift(0.001)) to 0. So DPM's last step is a first-order jump
from σ = shift(0.999/n) (0.05 at n = 20 unshifted, 0.136 with shift 3). `bench/solver_accuracy.py`
measures both against the exact flow of Gaussian mixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import torch
from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler
from torch import Tensor

Solver = Literal["dpm", "euler"]
FlowScheduler: TypeAlias = DPMSolverMultistepScheduler | FlowMatchEulerDiscreteScheduler
Velocity = Callable[[Tensor, Tensor], Tensor]
"""velocity(x, sigma) -> v: x is the current sample (B, ...), sigma a float tensor (B,) of σ in [0, 1]."""

SOLVERS: tuple[Solver, ...] = ("dpm", "euler")


def make_scheduler(
    solver: Solver, *, flow_shift: float, num_train_timesteps: int = 1000
) -> FlowScheduler:
    """A fresh scheduler for `solver` ("dpm": Flow-DPM-Solver, "euler": Flow-Euler) with Sana's settings."""
    if solver == "dpm":
        return DPMSolverMultistepScheduler(
            num_train_timesteps=num_train_timesteps,
            use_flow_sigmas=True,  # σ schedule: shift(linspace(1 - 1/N, 0, n + 1))[:n]
            prediction_type="flow_prediction",  # model output is v; x0 = x - σ·v
            flow_shift=flow_shift,
            algorithm_type="dpmsolver++",  # data-prediction form (DPM-Solver++)
            solver_order=2,  # second-order multistep
            solver_type="midpoint",
            lower_order_final=True,  # first order for the last steps when n < 15 (stability)
            euler_at_final=False,
            final_sigmas_type="zero",  # last step lands on σ = 0 (it is first order)
            timestep_spacing="linspace",
        )
    if solver == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps, shift=flow_shift)
    raise ValueError(f"unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}")


def integrate(velocity: Velocity, noise: Tensor, scheduler: FlowScheduler, steps: int) -> Tensor:
    """Sample from `noise` (σ = 1) down to σ = 0 in `steps` model evaluations; returns x0 shaped like `noise`.

    `velocity(x, sigma)` gets the current sample x (same shape and dtype as `noise`; the first
    dimension is the batch) and `sigma`, a tensor of shape (B,) and x's dtype holding the exact
    σ in [0, 1] the scheduler's update uses at this step (`scheduler.sigmas[i]`), for both
    solvers. It returns the predicted velocity ε - x0, shaped like x.

    To call a Sana transformer, pass `timestep=sigma * num_train_timesteps * timestep_scale`
    (σ·1000, what diffusers calls the timestep, times `transformer.config.timestep_scale`, 1.0 for
    Sana, as SanaPipeline does). SanaPipeline starts from `scheduler.timesteps[i]` instead, which
    for Flow-DPM-Solver is σ·1000 truncated to an integer (e.g. 963 for σ = 0.96394): at most
    0.001 off in σ; the exact σ keeps the model's input consistent with the solver's update.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if noise.ndim < 1:
        raise ValueError("noise needs a batch dimension (shape (B, ...))")
    scheduler.set_timesteps(steps, device=noise.device)
    scheduler.set_begin_index(0)  # step i uses sigmas[i], even where integer timesteps repeat
    sigmas = scheduler.sigmas
    x = noise
    for i, t in enumerate(scheduler.timesteps):
        sigma = torch.full((x.shape[0],), float(sigmas[i]), dtype=x.dtype, device=x.device)
        v = velocity(x, sigma)
        x = scheduler.step(v, t, x, return_dict=False)[0]
    return x

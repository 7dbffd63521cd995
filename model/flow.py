"""Flow matching as Sana trains it (rectified flow, σ ∈ [0, 1]):

    x_σ = (1 − σ)·x0 + σ·ε,   the transformer predicts v = ε − x0,   timestep input = 1000·σ.

σ is drawn logit-normally (σ' = sigmoid(N(mean, std))) and then shifted towards noise,
σ = s·σ' / (1 + (s − 1)·σ'), as the paper's flow shift s (3.0 at 1024px).
"""

from __future__ import annotations

import torch

TIMESTEP_SCALE = 1000.0


def sample_sigmas(batch: int, *, shift: float, mean: float = 0.0, std: float = 1.0,
                  generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    u = torch.sigmoid(torch.randn(batch, generator=generator, device=device) * std + mean)
    return shift_sigmas(u, shift)


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def noisy(x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    s = sigmas.view(-1, *([1] * (x0.dim() - 1)))
    return (1 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return noise - x0

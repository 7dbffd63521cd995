"""An exponential moving average of the trained parameters, swapped in for samples and exports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class Ema:
    def __init__(self, params: list[torch.nn.Parameter], decay: float) -> None:
        self.params = params
        self.decay = decay
        self.shadow = [p.detach().clone().float() for p in params]

    @torch.no_grad()
    def update(self) -> None:
        # One multi-tensor lerp (a few kernels on a GPU, not one per parameter).
        torch._foreach_lerp_(self.shadow, [p.detach().float() for p in self.params], 1 - self.decay)

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """The averaged weights in place of the live ones, for the duration."""
        live = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for param, shadow in zip(self.params, self.shadow, strict=True):
                param.copy_(shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                for param, saved in zip(self.params, live, strict=True):
                    param.copy_(saved)

    def state_dict(self) -> list[torch.Tensor]:
        return [s.cpu() for s in self.shadow]

    def load_state_dict(self, state: list[torch.Tensor]) -> None:
        self.shadow = [s.to(p.device).float() for s, p in zip(state, self.params, strict=True)]

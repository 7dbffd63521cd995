"""Gaussian mixtures whose flow-matching velocity field is known in closed form.

Shared by `bench/solver_accuracy.py` (which imports it as `gmm`: a script's own folder is on
`sys.path`) and `tests/model/test_schedulers.py` (which loads it by file path with importlib).
It lives in `bench/`, not in `sanacloud.model`, because it is measurement code, not model code.

Convention (diffusers flow matching, as Sana trains): x_σ = (1-σ)·x0 + σ·ε with ε ~ N(0, I),
σ = 1 is pure noise, σ = 0 is data; the model predicts v = ε - x0 and sampling integrates the
probability-flow ODE dx/dσ = v(x, σ) from σ = 1 down to σ = 0.

Derivation of the exact velocity for x0 ~ Σ_k π_k N(μ_k, Σ_k). Write a = 1-σ. Given the
component k, (x0, ε, x_σ) are jointly Gaussian with

    E[x_σ | k] = a·μ_k,   C_k := Cov(x_σ | k) = a²·Σ_k + σ²·I,
    Cov(x0, x_σ | k) = a·Σ_k,   Cov(ε, x_σ | k) = σ·I,

so the marginal p_σ is the mixture Σ_k π_k N(a·μ_k, C_k) and Gaussian conditioning gives

    E[x0 | x, k] = μ_k + a·Σ_k·C_k⁻¹·(x - a·μ_k),   E[ε | x, k] = σ·C_k⁻¹·(x - a·μ_k),
    v_k(x, σ) := E[ε - x0 | x, k] = -μ_k + (σ·I - a·Σ_k)·C_k⁻¹·(x - a·μ_k).

Averaging over the posterior of the component,

    v(x, σ) = E[ε - x0 | x_σ = x] = Σ_k w_k(x)·v_k(x, σ),
    w_k(x) = π_k·N(x; a·μ_k, C_k) / Σ_j π_j·N(x; a·μ_j, C_j).

With Σ_k = U_k·diag(λ_k)·U_kᵀ every matrix above is diagonal in the basis U_k: for
z = U_kᵀ(x - a·μ_k) and c = a²·λ_k + σ², C_k⁻¹ = U_k·diag(1/c)·U_kᵀ, log det C_k = Σ log c and
v_k = -μ_k + U_k·((σ - a·λ_k)/c ⊙ z). Checks: at σ = 1, v = x - Σ_k π_k μ_k; at σ = 0 (λ > 0),
v = -x. For one component with λ = 0 (data = a point mass μ), v = (x - μ)/σ: trajectories are
straight lines x_σ = μ + σ·(ε - μ), so any consistent solver lands exactly on μ. For one
Gaussian, the C_σ commute, and the ODE solution from x_1 = ε is x_σ = a·μ + C_σ^{1/2}·ε
(`gaussian_flow`), a closed form to check the numerical reference against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor

CHUNK = 1024  # rows per velocity evaluation
LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class GaussianMixture:
    """Σ_k π_k N(μ_k, U_k diag(λ_k) U_kᵀ) in float64."""

    weights: Tensor  # (K,), sums to 1
    means: Tensor  # (K, d)
    eigvals: Tensor  # (K, d), >= 0 (0: degenerate direction)
    eigvecs: Tensor  # (K, d, d), orthonormal columns

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def covariances(self) -> Tensor:  # (K, d, d)
        return torch.einsum("kij,kj,klj->kil", self.eigvecs, self.eigvals, self.eigvecs)

    def mean(self) -> Tensor:  # (d,)
        return self.weights @ self.means

    def covariance(self) -> Tensor:  # (d, d): within-component plus between-component spread
        centred = self.means - self.mean()
        within = torch.einsum("k,kij->ij", self.weights, self.covariances())
        return within + torch.einsum("k,ki,kj->ij", self.weights, centred, centred)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:  # (n, d)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + torch.einsum("nij,nj->ni", self.eigvecs[k], self.eigvals[k].sqrt() * z)

    @cached_property
    def _consts(self) -> tuple[Tensor, Tensor, Tensor]:
        # U_kᵀ μ_k (K, d), U_kᵀ (K, d, d), log π_k (K,): reused by every velocity call
        return torch.einsum("kd,kde->ke", self.means, self.eigvecs), self.eigvecs.transpose(1, 2), self.weights.log()

    def velocity(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """v(x, σ) = E[ε - x0 | x_σ = x] for x of shape (B, d) and σ scalar or (B,); computed in float64."""
        s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1, 1)  # (B or 1, 1, 1)
        if s.shape[0] > 1 and bool((s == s[0]).all()):
            s = s[:1]  # one σ for the whole batch (a sampler step): per-component terms once
        if x.shape[0] > CHUNK:  # cache-sized pieces are faster on CPU
            starts = range(0, x.shape[0], CHUNK)
            pieces = [self.velocity(x[i : i + CHUNK], s if s.shape[0] == 1 else s[i : i + CHUNK]) for i in starts]
            return torch.cat(pieces)
        proj_mu, eigvecs_t, log_w = self._consts
        a = 1.0 - s
        z = torch.matmul(x.to(torch.float64), self.eigvecs).transpose(0, 1) - a * proj_mu  # (B, K, d) = U_kᵀ(x - aμ_k)
        c = a**2 * self.eigvals + s**2  # (B or 1, K, d)
        inv_c = 1.0 / c
        log_n = -0.5 * ((z * z * inv_c).sum(-1) + c.log().sum(-1) + self.dim * LOG_2PI)  # (B, K)
        w = torch.softmax(log_n + log_w, dim=-1)  # (B, K) posterior of the component
        scaled = (s - a * self.eigvals) * inv_c * z  # (B, K, d)
        v_k = torch.matmul(scaled.transpose(0, 1), eigvecs_t).transpose(0, 1) - self.means  # (B, K, d)
        return (w.unsqueeze(1) @ v_k).squeeze(1).to(x.dtype)  # (B, d)


def random_mixture(
    dim: int,
    components: int,
    *,
    seed: int,
    mean_scale: float = 1.0,
    var_range: tuple[float, float] = (0.01, 0.3),
) -> GaussianMixture:
    """Unequal weights, means ~ N(0, mean_scale²), rotated anisotropic covariances (log-uniform variances)."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.rand(components, generator=g, dtype=torch.float64) + 0.5
    means = mean_scale * torch.randn(components, dim, generator=g, dtype=torch.float64)
    lo, hi = math.log(var_range[0]), math.log(var_range[1])
    eigvals = torch.exp(lo + (hi - lo) * torch.rand(components, dim, generator=g, dtype=torch.float64))
    eigvecs, _ = torch.linalg.qr(torch.randn(components, dim, dim, generator=g, dtype=torch.float64))
    return GaussianMixture(weights / weights.sum(), means, eigvals, eigvecs)


def gaussian(mean: Tensor, eigvals: Tensor, eigvecs: Tensor | None = None) -> GaussianMixture:
    """One Gaussian N(mean, U diag(eigvals) Uᵀ); eigvals = 0 gives a point mass."""
    d = mean.shape[-1]
    u = torch.eye(d, dtype=torch.float64) if eigvecs is None else eigvecs.to(torch.float64)
    one = torch.ones(1, dtype=torch.float64)
    return GaussianMixture(one, mean.to(torch.float64).reshape(1, d), eigvals.to(torch.float64).reshape(1, d), u[None])


def gaussian_flow(single: GaussianMixture, noise: Tensor, sigma: float) -> Tensor:
    """Closed-form ODE solution at σ from x_1 = noise, for a one-component mixture: a·μ + C_σ^{1/2}·ε."""
    a = 1.0 - sigma
    u, lam = single.eigvecs[0], single.eigvals[0]
    root = torch.sqrt(a**2 * lam + sigma**2)  # (d,)
    return a * single.means[0] + ((noise.to(torch.float64) @ u) * root) @ u.T


def exact_flow(
    mixture: GaussianMixture,
    noise: Tensor,
    *,
    sigma_start: float = 1.0,
    sigma_end: float = 0.0,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> Tensor:
    """The ODE solution x_{σ_end} from x_{σ_start} = noise (B, d), with scipy's DOP853 (order 8) in float64."""
    shape = noise.shape

    def rhs(sigma: float, y: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(y).reshape(shape)
        return mixture.velocity(x, sigma).numpy().ravel()

    y0 = noise.to(torch.float64).numpy().ravel()
    sol = solve_ivp(rhs, (sigma_start, sigma_end), y0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"reference ODE solve failed: {sol.message}")
    return torch.from_numpy(sol.y[:, -1].copy()).reshape(shape)


def sliced_wasserstein(a: Tensor, b: Tensor, *, projections: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two equal-size samples (n, d), over random unit directions."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(a.shape[1], projections, generator=g, dtype=torch.float64)
    theta /= theta.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a.to(torch.float64) @ theta, dim=0)
    pb, _ = torch.sort(b.to(torch.float64) @ theta, dim=0)
    return float(((pa - pb) ** 2).mean().sqrt())

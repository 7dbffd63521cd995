"""Flow-DPM-Solver and Flow-Euler (sanacloud.model.sampling.schedulers) against exact flows.

The Gaussian-mixture math lives in bench/gmm.py, shared with bench/solver_accuracy.py; bench/ is
not a package, so it is loaded here by file path (one copy of the math, none in the model package).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor

from sanacloud.model.sampling.schedulers import SOLVERS, Solver, integrate, make_scheduler


def _load_gmm() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "gmm.py"
    spec = importlib.util.spec_from_file_location("sanacloud_bench_gmm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gmm = _load_gmm()
# diffusers' DPM scheduler builds its (unused, for flow sigmas) beta table with np.array(tensor, copy=False)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """These tensors are tiny: one CPU thread is several times faster than many (and steadier on busy machines)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


Problem = tuple[Any, Tensor, Tensor]  # mixture, noise, exact samples


@pytest.fixture(scope="module")
def mixture_2d() -> Problem:
    """A 2-D, 4-component mixture, 256 noise samples and their exact ODE solutions."""
    mixture = gmm.random_mixture(2, 4, seed=2, mean_scale=1.5)
    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return mixture, noise, gmm.exact_flow(mixture, noise)


def _error(mixture: Any, noise: Tensor, ref: Tensor, solver: Solver, shift: float, steps: int) -> float:
    x = integrate(mixture.velocity, noise.float(), make_scheduler(solver, flow_shift=shift), steps)
    return float((x.double() - ref).norm(dim=1).mean())


def test_schedulers_are_sanas() -> None:
    dpm = make_scheduler("dpm", flow_shift=3.0)
    assert type(dpm).__name__ == "DPMSolverMultistepScheduler"
    cfg = dpm.config
    assert (cfg.use_flow_sigmas, cfg.prediction_type, cfg.flow_shift) == (True, "flow_prediction", 3.0)
    assert (cfg.algorithm_type, cfg.solver_order, cfg.final_sigmas_type) == ("dpmsolver++", 2, "zero")
    euler = make_scheduler("euler", flow_shift=3.0)
    assert type(euler).__name__ == "FlowMatchEulerDiscreteScheduler"
    assert euler.config.shift == 3.0
    for scheduler in (dpm, euler):
        scheduler.set_timesteps(20)
        assert len(scheduler.timesteps) == 20
        assert scheduler.sigmas[0] > 0.99 and scheduler.sigmas[-1] == 0.0


def test_unknown_solver_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown solver 'heun'.*dpm, euler"):
        make_scheduler("heun", flow_shift=1.0)  # type: ignore[arg-type]


def test_closed_form_velocity_is_the_conditional_expectation() -> None:
    """In 1-D, E[ε - x0 | x_σ = x] = (x - E[x0 | x]) / σ by quadrature over x0 matches the closed form."""
    mixture = gmm.random_mixture(1, 3, seed=5, mean_scale=1.5)
    grid = torch.linspace(-8, 8, 200_001, dtype=torch.float64)
    std = mixture.eigvals[:, 0].sqrt()
    density = torch.exp(-0.5 * ((grid - mixture.means) / std[:, None]) ** 2) / std[:, None]  # (K, grid)
    prior = (mixture.weights[:, None] * density).sum(0)
    x = torch.tensor([-2.0, -0.3, 0.4, 1.7], dtype=torch.float64)
    for sigma in (0.9, 0.5, 0.2):
        like = torch.exp(-0.5 * ((x[:, None] - (1 - sigma) * grid) / sigma) ** 2)  # N(x; (1-σ)x0, σ²)
        post_mean = (like * prior * grid).sum(1) / (like * prior).sum(1)
        expected = (x - post_mean) / sigma
        torch.testing.assert_close(mixture.velocity(x[:, None], sigma)[:, 0], expected, rtol=1e-6, atol=1e-8)


def test_reference_solver_matches_the_gaussian_closed_form() -> None:
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    single = gmm.gaussian(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.04, 0.5, 2.0]), q)
    noise = torch.randn(64, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for sigma_end in (0.5, 0.0):
        exact = gmm.gaussian_flow(single, noise, sigma_end)
        torch.testing.assert_close(gmm.exact_flow(single, noise, sigma_end=sigma_end), exact, rtol=0, atol=1e-7)


def test_chunked_velocity_matches_one_piece() -> None:
    mixture = gmm.random_mixture(4, 3, seed=3)
    x = torch.randn(gmm.CHUNK * 2 + 7, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sigma = torch.rand(x.shape[0], generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    whole = torch.cat([mixture.velocity(x[i : i + 1], sigma[i : i + 1]) for i in range(0, x.shape[0], 97)])
    torch.testing.assert_close(mixture.velocity(x, sigma)[::97], whole)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_straight_flow_of_a_point_mass_is_solved_exactly(solver: Solver, shift: float) -> None:
    """Data = a point mass μ: v = (x - μ)/σ, trajectories are straight, every step count lands on μ."""
    mu = torch.tensor([0.7, -1.2, 2.0])
    point = gmm.gaussian(mu, torch.zeros(3))
    noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    for steps in (1, 2, 5, 20):
        x = integrate(point.velocity, noise, make_scheduler(solver, flow_shift=shift), steps)
        torch.testing.assert_close(x, mu.expand_as(x), rtol=0, atol=2e-5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_solvers_converge_to_the_exact_flow(mixture_2d: Problem, solver: Solver, shift: float) -> None:
    errors = [_error(*mixture_2d, solver, shift, steps) for steps in (5, 10, 20, 50)]
    assert errors == sorted(errors, reverse=True), errors
    assert errors[-1] < errors[0] / 8, errors


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_dpm_beats_euler_at_20_steps(mixture_2d: Problem, shift: float) -> None:
    assert _error(*mixture_2d, "dpm", shift, 20) < _error(*mixture_2d, "euler", shift, 20)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4, 4)])
def test_integrate_takes_any_batch_shape(solver: Solver, shape: tuple[int, ...]) -> None:
    mu = torch.linspace(-1, 1, math.prod(shape[1:])).reshape(shape[1:])
    seen: list[Tensor] = []

    def velocity(x: Tensor, sigma: Tensor) -> Tensor:
        assert x.shape == shape and sigma.shape == (shape[0],) and sigma.dtype == x.dtype
        seen.append(sigma)
        return (x - mu) / sigma.reshape(-1, *[1] * (x.ndim - 1))

    scheduler = make_scheduler(solver, flow_shift=3.0)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    x = integrate(velocity, noise, scheduler, 8)
    assert x.shape == shape and x.dtype == noise.dtype
    torch.testing.assert_close(x, mu.expand(shape), rtol=0, atol=2e-5)
    # the velocity saw exactly the σ the scheduler steps with, one call per step
    torch.testing.assert_close(torch.stack([s[0] for s in seen]), scheduler.sigmas[:-1])


def test_integrate_refuses_zero_steps() -> None:
    with pytest.raises(ValueError, match="steps"):
        integrate(lambda x, s: x, torch.zeros(2, 2), make_scheduler("euler", flow_shift=1.0), 0)

"""The divergence guard: a LoRA run driven to NaN by a huge learning rate fails at its next logging
step with the first non-finite step and no checkpoint after it, or with `on_divergence: continue`
trains on after one warning; under fp16 the loss scaler's skipped steps alone do not fail a run,
sixteen in a row do; ranks agree on the earliest divergence any of them saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sanacloud.model.train.divergence import MAX_SKIPPED_IN_A_ROW, Diverged, DivergenceGuard, _first_across_ranks
from sanacloud.model.train.engine import PlainEngine
from sanacloud.model.train.spec import TrainSpec
from tests.helpers.trainer import make_spec, of_type, run_trainer

CPU = torch.device("cpu")
# On the random sana-tiny with the shapes set, LoRA at this learning rate has a NaN grad norm at step 3
# (and a NaN loss from step 4); both are within the API's ranges for a job's hyperparameters.
DIVERGING = {"learning_rate": 1.0, "max_grad_norm": 1e6, "lora": {"rank": 16}}


def test_a_diverging_run_fails_at_the_next_logging_step_naming_the_first_bad_step(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    spec = make_spec(random_tiny, shapes_data, tmp_path / "run", steps=20, log_every=4, checkpoint_interval=2,
                     **DIVERGING)
    events = run_trainer(spec, exit_code=1)

    [error] = of_type(events, "error")
    assert events[-1] == error
    assert error["message"] == ("grad norm became NaN at step 3; training diverged: try a lower learning_rate "
                                "(now 1) or a smaller max_grad_norm (now 1e+06)")
    assert {k: error[k] for k in ("step", "reason", "quantity", "value", "detected_at", "mixed_precision")} == {
        "step": 3, "reason": "diverged", "quantity": "grad_norm", "value": "NaN", "detected_at": 4,
        "mixed_precision": "fp32"}
    assert error["step"] <= error["detected_at"] <= error["step"] + spec.log_every - 1  # within one interval
    assert not of_type(events, "step")  # the first logging step (4) is where it failed
    assert [c["step"] for c in of_type(events, "checkpoint")] == [2]  # none of diverged weights
    assert sorted(p.name for p in (spec.output_dir / "checkpoints").iterdir()) == ["step-000002"]


def test_on_divergence_continue_warns_once_and_trains_to_the_end(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    spec = make_spec(random_tiny, shapes_data, tmp_path / "run", steps=8, log_every=2, checkpoint_interval=4,
                     on_divergence="continue", **DIVERGING)
    events = run_trainer(spec)

    [warning] = of_type(events, "warning")
    assert (warning["step"], warning["detected_at"], warning["quantity"]) == (3, 4, "grad_norm")
    assert warning["message"].endswith("(on_divergence is continue: training on)")
    steps = of_type(events, "step")
    assert [e["step"] for e in steps] == [2, 4, 6, 8] and events[-1]["type"] == "done"
    assert steps[-1]["loss"] is None and steps[-1]["grad_norm"] is None  # NaN is written as null (strict JSON)
    assert [c["step"] for c in of_type(events, "checkpoint")] == [4, 8]


def spec(**overrides: Any) -> TrainSpec:
    return TrainSpec(**{"model": "sana-tiny", "model_path": Path("base"), "data_dir": Path("data"),
                        "output_dir": Path("out"), "steps": 100, "learning_rate": 1e-4, **overrides})


def scaled_step(engine: PlainEngine, module: torch.nn.Linear, *, overflow: bool) -> torch.Tensor:
    """A step whose gradients are inf (as an fp16 overflow makes them) or finite; the loss is finite."""
    hook = module.weight.register_hook(lambda grad: grad * float("inf")) if overflow else None
    engine.backward(module(torch.ones(1, 4)).sum())
    if hook:
        hook.remove()
    return engine.step()


def test_fp16_skipped_steps_alone_do_not_fail_a_run_but_a_scaler_skipping_on_does() -> None:
    run = spec(mixed_precision="fp16")
    module = torch.nn.Linear(4, 1)
    engine = PlainEngine(module, list(module.parameters()), run, CPU)  # a real GradScaler, on the CPU
    guard = DivergenceGuard(run, CPU, "float16")
    step = 0

    def train(steps: int, *, overflow: bool) -> None:
        nonlocal step
        for _ in range(steps):
            step += 1
            before = module.weight.detach().clone()
            grad_norm = scaled_step(engine, module, overflow=overflow)
            assert torch.equal(module.weight, before) is overflow  # the scaler skipped the step, or took it
            guard.observe(step, [torch.tensor(0.5)], grad_norm)
            guard.check(step, world=1)

    train(MAX_SKIPPED_IN_A_ROW - 1, overflow=True)
    train(1, overflow=False)
    train(MAX_SKIPPED_IN_A_ROW - 1, overflow=True)
    with pytest.raises(Diverged) as failed:
        train(1, overflow=True)
    assert str(failed.value) == (
        "the fp16 loss scaler skipped 16 steps in a row from step 17 (grad norm inf: the gradients overflowed at "
        "every scale); fp16 is unstable for this model: try mixed_precision fp32 or a lower learning_rate (now 0.0001)")
    assert failed.value.fields["step"] == 17 and failed.value.fields["detected_at"] == 32


FP16_ADVICE = "fp16 is unstable for this model: try mixed_precision {} or a lower learning_rate (now 0.0001)"


@pytest.mark.parametrize(("precision", "checkpoint_dtype", "advice"), [
    ("fp16", "float16", FP16_ADVICE.format("fp32")),  # bf16 would degrade an fp16 checkpoint
    ("fp16", "bfloat16", FP16_ADVICE.format("bf16")),
    ("bf16", "bfloat16", "training diverged: try a lower learning_rate (now 0.0001) or a smaller max_grad_norm "
     "(now 1)"),
])
def test_a_non_finite_loss_fails_any_precision_with_advice_for_it(precision: str, checkpoint_dtype: str,
                                                                   advice: str) -> None:
    guard = DivergenceGuard(spec(mixed_precision=precision), CPU, checkpoint_dtype)
    guard.observe(1, [torch.tensor(1.0)], torch.tensor(2.0))
    guard.observe(2, [torch.tensor(1.0), torch.tensor(float("inf"))], torch.tensor(float("nan")))
    guard.observe(3, [torch.tensor(float("nan"))], torch.tensor(float("nan")))  # later ones do not overwrite it
    with pytest.raises(Diverged) as failed:
        guard.check(3, world=1)
    assert str(failed.value) == f"loss became inf at step 2; {advice}"
    assert (failed.value.fields["quantity"], failed.value.fields["value"]) == ("loss", "inf")


def test_in_bf16_and_fp32_a_non_finite_grad_norm_alone_fails() -> None:
    guard = DivergenceGuard(spec(mixed_precision="bf16"), CPU, "bfloat16")
    guard.observe(1, [torch.tensor(1.0)], float("inf"))  # DeepSpeed reports an overflowed norm as a float
    with pytest.raises(Diverged, match=r"^grad norm became inf at step 1; "):
        guard.check(1, world=1)


# What each of two ranks found (step, what, value), and what both must agree on.
CASES = [
    ([[0, 0, 0], [7, 1, 1]], (7, 1, 1)),  # only rank 1's loss went NaN
    ([[5, 2, 2], [5, 1, 1]], (5, 1, 1)),  # the same step: the loss comes first
    ([[9, 1, 2], [4, 2, 1]], (4, 2, 1)),  # the earliest step wins
    ([[0, 0, 0], [0, 0, 0]], (0, 0, 0)),
]


def _rank_sees(rank: int, store: str, results: Any) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    results[rank] = [_first_across_ranks(torch.tensor(found[rank]), 2) for found, _ in CASES]
    dist.destroy_process_group()


def test_ranks_agree_on_the_earliest_divergence(tmp_path: Path) -> None:
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank_sees, args=(str(tmp_path / "store"), results), nprocs=2)
        agreed = [expected for _, expected in CASES]
        assert [results[0], results[1]] == [agreed, agreed]

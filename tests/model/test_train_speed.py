"""The trainer's speed settings keep its results: a compiled training forward gives the eager loss
curve and checkpoints a plain transformer loads; the "auto" knobs follow the device and the
checkpoint's dtype; the optimizer is fused on CUDA, foreach on a CPU; the benchmark runs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import SanaTransformer2DModel

from sanacloud.model.data.training import TrainingBatch
from sanacloud.model.registry import REGISTRY
from sanacloud.model.train.engine import adamw, load_optimizer_state
from sanacloud.model.train.loop import optimizer_step, trainer_engine
from sanacloud.model.train.lora import add_lora, load_lora_state_dict, lora_state_dict
from sanacloud.model.train.spec import LoraSpec, TrainSpec
from tests.helpers.transformer import transformer_output

TINY = REGISTRY["sana-tiny"]
# sana-tiny's blocks, fewer of them: compiling on a CPU takes seconds per block
ONE_BLOCK = {**TINY.transformer, "num_layers": 1}
CPU = torch.device("cpu")


def spec(**overrides: Any) -> TrainSpec:
    fields: dict[str, Any] = {"model": "sana-tiny", "model_path": Path("base"), "data_dir": Path("data"),
                              "output_dir": Path("out"), "steps": 3, "batch_size": 2, "learning_rate": 1e-3,
                              "lora": {"rank": 4}}
    return TrainSpec(**{**fields, **overrides})


def train(compile_: bool, steps: int = 3) -> tuple[list[float], SanaTransformer2DModel]:
    """A few optimizer steps of the trainer's own code on a one-block transformer; the losses."""
    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(**ONE_BLOCK)
    run = spec(compile=compile_).for_device("cpu", TINY.dtype)
    _, engine = trainer_engine(run, transformer, CPU)
    inputs = torch.Generator().manual_seed(1)
    batch = TrainingBatch(torch.randn(2, 32, 4, 4, generator=inputs), torch.randn(2, 8, 64, generator=inputs),
                          torch.ones(2, 8))
    noise = torch.Generator().manual_seed(2)
    losses = [optimizer_step(engine, run, TINY.flow_shift, noise, itertools.repeat((batch, None)))[0][0].total
              for _ in range(steps)]
    return [float(loss) for loss in losses], transformer


@pytest.mark.slow  # compiling, even one block, takes a while on a CPU with a cold cache
def test_a_compiled_forward_trains_as_the_eager_one_and_saves_plain_checkpoints() -> None:
    eager, _ = train(compile_=False)
    compiled, transformer = train(compile_=True)
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-6)

    assert not any("_orig_mod" in key for key in transformer.state_dict())
    saved = lora_state_dict(transformer)  # what a checkpoint and an export hold
    torch.manual_seed(0)
    plain = SanaTransformer2DModel(**ONE_BLOCK)
    add_lora(plain, LoraSpec(rank=4))
    assert set(saved) == set(lora_state_dict(plain))
    load_lora_state_dict(plain, saved)
    assert torch.allclose(transformer_output(plain.eval()), transformer_output(transformer.eval()), atol=1e-6)


def test_auto_knobs_follow_the_device_and_the_checkpoint_dtype() -> None:
    on_gpu = spec().for_device("cuda", REGISTRY["sana-1600m-1024"].dtype)
    assert (on_gpu.mixed_precision, on_gpu.compile) == ("fp16", True)
    assert spec().for_device("cuda", REGISTRY["sana-1600m-4096"].dtype).mixed_precision == "bf16"
    on_cpu = spec().for_device("cpu", REGISTRY["sana-1600m-1024"].dtype)
    assert (on_cpu.mixed_precision, on_cpu.compile) == ("fp32", False)
    zero3 = spec(type="full", deepspeed={"zero_stage": 3}).for_device("cuda", "float16")
    assert zero3.compile is False  # its gathering hooks break compiled graphs
    chosen = spec(mixed_precision="fp32", compile=False, gradient_checkpointing=True).for_device("cuda", "float16")
    assert (chosen.mixed_precision, chosen.compile, chosen.gradient_checkpointing) == ("fp32", False, True)


def test_adamw_is_fused_on_cuda_and_foreach_elsewhere_also_after_loading_a_state() -> None:
    params = [torch.nn.Parameter(torch.ones(3))]
    cpu = adamw(params, spec(), CPU)
    assert (cpu.param_groups[0]["foreach"], cpu.param_groups[0]["fused"]) == (True, None)
    cuda = adamw(params, spec(), torch.device("cuda"))  # only built: fused AdamW also takes CPU tensors
    assert (cuda.param_groups[0]["fused"], cuda.param_groups[0]["foreach"]) == (True, None)
    params[0].grad = torch.ones(3)
    cpu.step()
    load_optimizer_state(cuda, cpu.state_dict(), torch.device("cuda"))
    assert (cuda.param_groups[0]["fused"], cuda.param_groups[0]["foreach"]) == (True, None)


@pytest.mark.slow  # DeepSpeed's import and a ZeRO engine: about ten seconds
def test_the_training_benchmark_compares_both_loops_at_tiny_size() -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "training.py"
    result = subprocess.run([sys.executable, str(script), "--model", "sana-tiny", "--steps", "2", "--warmup", "1",
                             "--batch", "2", "--threads", "1"], capture_output=True, text=True, timeout=240, check=True)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    loops = [r for r in records if r["kind"] == "loop"]
    assert [(r["variant"], r["loop"]) for r in loops] == [
        ("lora", "diffusers"), ("lora", "sanacloud"), ("full", "diffusers"), ("full", "sanacloud")]
    assert all(r["samples_per_s"] > 0 and r["peak_memory_mb"] > 0 and r["precision"] == "fp32" for r in loops)
    assert loops[0]["trainable_params"] == loops[1]["trainable_params"] < loops[2]["trainable_params"]
    assert [r["variant"] for r in records if r["kind"] == "compare" and r["speedup"] > 0] == ["lora", "full"]

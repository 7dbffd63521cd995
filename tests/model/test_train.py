"""The trainer end to end on a random sana-tiny: events, checkpoints with samples, LoRA export
that diffusers loads, exact resume after SIGTERM, and full training through DeepSpeed ZeRO."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import SanaPipeline, SanaTransformer2DModel
from PIL import Image

from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from tests.helpers.deadlines import wait_until
from tests.helpers.trainer import make_spec, of_type, run_trainer
from tests.helpers.transformer import transformer_output

TINY = REGISTRY["sana-tiny"]


def test_lora_run_writes_events_checkpoints_samples_and_a_loadable_export(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    spec = make_spec(random_tiny, shapes_data, tmp_path / "run", checkpoint_interval=2, keep_checkpoints=1,
                     validation_prompts=["a red circle on a blue background"], lora={"rank": 4})
    events = run_trainer(spec)

    assert [e["type"] for e in events][:2] == ["cache", "start"] and events[-1]["type"] == "done"
    steps = of_type(events, "step")
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    assert all(e["loss"] > 0 and e["lr"] == 1e-3 and e["grad_norm"] >= 0 and e["samples_per_s"] > 0 for e in steps)
    assert of_type(events, "start")[0]["trainable_params"] < 200_000  # only the adapter trains
    checkpoints = of_type(events, "checkpoint")
    assert [c["step"] for c in checkpoints] == [2, 4] and checkpoints[1]["pruned"] == [2]
    final = Path(checkpoints[-1]["path"])
    assert sorted(p.name for p in (final.parent).iterdir()) == ["step-000004"]
    sample = Image.open(checkpoints[-1]["samples"][0])
    assert sample.size == (128, 128)

    base = load(random_tiny, TINY)
    before = transformer_output(base.transformer)
    pipe = SanaPipeline(tokenizer=base.tokenizer, text_encoder=base.text_encoder, vae=base.vae,
                        transformer=base.transformer, scheduler=None)
    pipe.load_lora_weights(final / LORA_WEIGHTS, adapter_name="trained")
    with_lora = transformer_output(base.transformer)
    assert not torch.allclose(before, with_lora, atol=1e-6), "the exported LoRA changed nothing"
    pipe.unload_lora_weights()
    assert torch.allclose(transformer_output(base.transformer), before, atol=1e-6)


def test_sigterm_checkpoints_and_resume_reproduces_the_loss_curve(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    common = {"steps": 6, "checkpoint_interval": 3, "lora": {"rank": 4, "alpha": 16, "dropout": 0.1}, "flip": True,
              "cache_dir": tmp_path / "cache", "lr_scheduler": "cosine", "warmup_steps": 2, "ema_decay": 0.9,
              "validation_prompts": ["a red circle on a blue background"]}
    straight = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "straight", **common))

    interrupted = make_spec(random_tiny, shapes_data, tmp_path / "interrupted", **common)
    first = run_trainer(interrupted, stop_after_step=2)
    stopped = of_type(first, "stopped")
    assert stopped, "SIGTERM did not stop the run cleanly"
    stop_step = stopped[0]["step"]
    assert 2 <= stop_step < 6 and of_type(first, "checkpoint")[-1]["step"] == stop_step
    if stop_step != 3:  # a checkpoint to stop on is for resuming: no samples, to fit the stop's grace
        assert of_type(first, "checkpoint")[-1]["samples"] == []
    assert all(checkpoint["samples"] for checkpoint in of_type(straight, "checkpoint"))
    second = run_trainer(interrupted)
    assert of_type(second, "resumed")[0]["step"] == stop_step
    assert of_type(second, "cache")[0]["latents_reused"] is True

    losses = {e["step"]: e["loss"] for e in of_type(straight, "step")}
    resumed = {e["step"]: e["loss"] for e in of_type(second, "step")}
    assert sorted(resumed) == list(range(stop_step + 1, 7))
    for step, loss in resumed.items():
        assert loss == pytest.approx(losses[step], rel=1e-5, abs=1e-7), (step, loss, losses[step])


@pytest.mark.parametrize(("processes", "stage"), [(1, 2), (2, 2), (2, 3)])
def test_full_training_through_deepspeed_zero(random_tiny: Path, shapes_data: Path, tmp_path: Path,
                                              processes: int, stage: int) -> None:
    spec = make_spec(random_tiny, shapes_data, tmp_path / "full", type="full", steps=3, batch_size=2,
                     checkpoint_interval=3, deepspeed={"zero_stage": stage},
                     validation_prompts=["a red circle on a blue background"])
    launcher = None
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    events = run_trainer(spec, launcher=launcher)
    assert of_type(events, "start")[0]["world_size"] == processes
    assert of_type(events, "start")[0]["trainable_params"] > 1_000_000
    checkpoint = Path(of_type(events, "checkpoint")[-1]["path"])
    assert Image.open(checkpoint / "samples" / "00.png").size == (128, 128)
    trained = SanaTransformer2DModel.from_pretrained(checkpoint / "transformer")
    base = SanaTransformer2DModel.from_pretrained(random_tiny / "transformer")
    assert not torch.allclose(transformer_output(trained), transformer_output(base), atol=1e-6)


def test_ranks_die_with_their_launcher(random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    """A worker killed with SIGKILL takes torchrun with it; its ranks must not train on."""
    spec = make_spec(random_tiny, shapes_data, tmp_path / "full", type="full", steps=100_000, batch_size=2,
                     checkpoint_interval=100_000, deepspeed={"zero_stage": 2})
    path = tmp_path / "spec.json"
    path.write_text(spec.model_dump_json())
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "sanacloud.model.train", "--spec", str(path)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}) as launcher:
        assert launcher.stdout is not None
        wait_until(lambda: '"type": "step"' in launcher.stdout.readline(), what="the first step", timeout_s=120)
        ranks = children_of(launcher.pid)
        assert len(ranks) == 2, ranks
        launcher.kill()
        try:  # the events pipe stays open here, so no broken pipe ends the ranks: only their launcher's death
            wait_until(lambda: not alive(ranks), what="the ranks to die with their launcher", timeout_s=30,
                       describe=lambda: alive(ranks))
        finally:
            for pid in alive(ranks):
                os.kill(pid, signal.SIGKILL)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def alive(pids: list[int]) -> list[int]:
    """The pids still running (a killed process not yet reaped by its parent is not)."""
    running = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
                running.append(pid)
    return running

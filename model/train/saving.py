"""Writing a checkpoint (all ranks take part) and resuming from the newest one."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from sanacloud.model.components import Sana
from sanacloud.model.data.training import TrainingData
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.train import checkpoint_layout as layout
from sanacloud.model.train import checkpoints
from sanacloud.model.train.ema import Ema
from sanacloud.model.train.engine import Engine
from sanacloud.model.train.events import emit, is_main_process
from sanacloud.model.train.lora import export_lora, load_lora_state_dict, lora_state_dict
from sanacloud.model.train.spec import TrainSpec


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def save_checkpoint(spec: TrainSpec, sana: Sana, engine: Engine, data: TrainingData, ema: Ema | None,
                    noise: torch.Generator, step: int, loss: float, *, with_samples: bool = True,
                    prior_data: TrainingData | None = None) -> None:
    """Write checkpoint `step` whole or not at all; `with_samples` renders the validation prompts into it.
    `prior_data`: prior preservation's class batches, whose position is saved next to the instances'."""
    staging = checkpoints.folder_for(spec.output_dir, step).with_suffix(".tmp")
    if is_main_process():
        checkpoints.staging_for(spec.output_dir, step)
    _barrier()
    engine.save(staging)
    torch.save({"noise": noise.get_state(), "torch": torch.get_rng_state()}, staging / f"rng-{_rank()}.pt")
    samples: list[str] = []
    with ema.swapped() if ema else nullcontext(), _gathered(engine):
        if is_main_process():
            _export(spec, sana, staging)
            samples = _samples(spec, sana, staging / layout.SAMPLES_DIR, step) if with_samples else []
    if is_main_process():
        # The live adapter, for resume: the export above holds the EMA weights when EMA is on.
        live = lora_state_dict(sana.transformer) if spec.type == "lora" else None
        torch.save({"step": step, "loss": loss, "data": data.state_dict(), "lora": live,
                    "prior_data": prior_data.state_dict() if prior_data else None,
                    "ema": ema.state_dict() if ema else None}, staging / layout.TRAINER_STATE)
    _barrier()
    if is_main_process():
        final = checkpoints.publish(staging)
        pruned = checkpoints.prune(spec.output_dir, spec.keep_checkpoints)
        emit("checkpoint", step=step, path=str(final), loss=round(loss, 6),
             samples=[str(final / layout.SAMPLES_DIR / name) for name in samples], pruned=pruned)
    _barrier()


def _gathered(engine: Engine) -> AbstractContextManager[Any]:
    gathered = getattr(engine, "gathered", None)
    return gathered() if gathered else nullcontext()


def _export(spec: TrainSpec, sana: Sana, folder: Path) -> None:
    if spec.type == "lora":
        export_lora(sana.transformer, folder)
    else:
        sana.transformer.save_pretrained(folder / layout.TRANSFORMER_DIR, safe_serialization=True)


def _samples(spec: TrainSpec, sana: Sana, folder: Path, step: int) -> list[str]:
    if not spec.validation_prompts:
        return []
    folder.mkdir()
    was_training = sana.transformer.training
    sana.transformer.eval()
    try:
        pipe = make_pipeline(sana)
        seeds = [spec.validation_seed + i for i in range(len(spec.validation_prompts))]
        images = generate(pipe, sana, spec.validation_prompts, seeds=seeds, steps=spec.validation_steps,
                          guidance=spec.guidance_scale, resolution=spec.resolution)
    finally:
        sana.transformer.train(was_training)
    names = []
    for i, image in enumerate(images):
        names.append(f"{i:02d}.png")
        image.save(folder / names[-1])
    emit("sample", step=step, prompts=spec.validation_prompts, seeds=seeds, files=[str(folder / n) for n in names])
    return names


def restore(spec: TrainSpec, sana: Sana, engine: Engine, data: TrainingData, ema: Ema | None,
            noise: torch.Generator, prior_data: TrainingData | None = None) -> int:
    """Load the newest complete checkpoint into everything; returns its step (0 when starting fresh).
    Class batches (`prior_data`) resume where they were; from their start if the checkpoint has none
    (a run that had no prior preservation)."""
    found = checkpoints.latest(spec.output_dir)
    if found is None:
        return 0
    step, folder = found
    trainer = torch.load(folder / layout.TRAINER_STATE, weights_only=False)
    if spec.type == "lora":
        load_lora_state_dict(sana.transformer, trainer["lora"])
    engine.load(folder)
    data.load_state_dict(trainer["data"])
    if prior_data is not None and trainer.get("prior_data") is not None:
        prior_data.load_state_dict(trainer["prior_data"])
    if ema is not None and trainer["ema"] is not None:
        ema.load_state_dict(trainer["ema"])
    rng = torch.load(folder / f"rng-{_rank()}.pt", weights_only=False)
    noise.set_state(rng["noise"])
    torch.set_rng_state(rng["torch"])
    emit("resumed", step=step, path=str(folder))
    return int(trainer["step"])

"""Resolve a job request's "auto" hyperparameters from its base model and dataset.

Rules of thumb for small fine-tuning sets: about 100 sample visits per image, bounded; LoRA
learns at 1e-4, full training at 2e-5; five checkpoints per run; the paper's gradient clip of
0.1 for full training.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from sanacloud.api.jobs.schemas import FullJobCreate, LoraJobCreate
from sanacloud.model.train.spec import PRECISION_OF_DTYPE, training_caption
from sanacloud.platform.catalog import BaseModelFamily
from sanacloud.platform.errors import InvalidInput

VISITS_PER_IMAGE = 100
MIN_AUTO_STEPS, MAX_AUTO_STEPS = 100, 4000
CHECKPOINTS_PER_RUN = 5


def resolve(request: LoraJobCreate | FullJobCreate, family: BaseModelFamily, *, image_count: int,
            captions: list[str], on_cpu: bool) -> dict[str, Any]:
    """The complete hyperparameters a job runs with; raises InvalidInput naming what does not fit."""
    hp = request.hyperparameters
    is_lora = isinstance(request, LoraJobCreate)
    batch = min(4 if is_lora else 8, image_count) if hp.batch_size == "auto" else hp.batch_size
    effective_batch = batch * hp.gradient_accumulation_steps
    steps_per_epoch = math.ceil(image_count / effective_batch)
    if hp.epochs is not None:
        steps = steps_per_epoch * hp.epochs
    elif hp.steps == "auto":
        steps = min(max(math.ceil(image_count * VISITS_PER_IMAGE / effective_batch), MIN_AUTO_STEPS), MAX_AUTO_STEPS)
    else:
        steps = hp.steps
    resolution = family.spec.resolution if hp.resolution == "auto" else hp.resolution
    family.check_resolution(resolution)
    interval = max(1, math.ceil(steps / CHECKPOINTS_PER_RUN)) if hp.checkpoint_interval == "auto" \
        else hp.checkpoint_interval
    if interval > steps:
        raise InvalidInput(f"checkpoint_interval {interval} is longer than the run ({steps} steps); "
                           "the final checkpoint is always written, so use at most the step count")
    resolved: dict[str, Any] = {
        "learning_rate": (1e-4 if is_lora else 2e-5) if hp.learning_rate == "auto" else hp.learning_rate,
        "steps": steps,
        "batch_size": batch,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "resolution": resolution,
        "seed": secrets.randbelow(2**31) if hp.seed is None else hp.seed,
        "checkpoint_interval": interval,
        "validation_prompts": hp.validation_prompts or _distinct(
            [training_caption(c, instance_prompt=hp.instance_prompt, trigger=hp.trigger) for c in captions], 4),
        "warmup_steps": min(100, steps // 10) if hp.warmup_steps == "auto" else hp.warmup_steps,
        "lr_scheduler": hp.lr_scheduler,
        "max_grad_norm": (1.0 if is_lora else 0.1) if hp.max_grad_norm == "auto" else hp.max_grad_norm,
        "flow_shift": family.spec.flow_shift if hp.flow_shift == "auto" else hp.flow_shift,
        "mixed_precision": _precision(hp.mixed_precision, family, on_cpu),
        "caption_dropout": hp.caption_dropout,
        "instance_prompt": hp.instance_prompt,
        "trigger": hp.trigger,
        "caption_choice": hp.caption_choice,
        "caption_temperature": hp.caption_temperature,
        # the trainer's part; the class dataset stays in `requested` (lifecycle.class_dataset_id)
        "prior": hp.prior.model_dump(exclude={"class_dataset_id"}) if hp.prior else None,
        "ema_decay": hp.ema_decay,
        "gradient_checkpointing": hp.gradient_checkpointing,
        "on_divergence": hp.on_divergence,
    }
    if resolved["warmup_steps"] >= steps and steps > 1:
        raise InvalidInput(f"warmup_steps {resolved['warmup_steps']} must be shorter than the run ({steps} steps)")
    if isinstance(request, LoraJobCreate):
        lora = request.lora
        if lora.rank > family.max_lora_rank:
            raise InvalidInput(f"LoRA rank {lora.rank} exceeds {family.name}'s maximum of {family.max_lora_rank}")
        resolved["lora"] = {"rank": lora.rank, "alpha": lora.alpha or float(lora.rank), "dropout": lora.dropout,
                            "targets": sorted(set(lora.targets))}
    else:
        resolved["deepspeed"] = request.deepspeed.model_dump()
    return resolved


def _precision(requested: str, family: BaseModelFamily, on_cpu: bool) -> str:
    if on_cpu:
        if requested in ("fp16", "bf16"):
            raise InvalidInput(f"mixed_precision {requested} needs a GPU pool; CPU pools train in fp32")
        return "fp32"
    if requested == "auto":
        return PRECISION_OF_DTYPE[family.spec.dtype]
    if family.spec.dtype == "float16" and requested == "bf16":
        raise InvalidInput(f"{family.name} is an fp16 checkpoint; training it in bf16 degrades it, use fp16 or fp32")
    return requested


def _distinct(captions: list[str], limit: int) -> list[str]:
    seen: list[str] = []
    for caption in captions:
        if caption and caption not in seen:
            seen.append(caption)
        if len(seen) == limit:
            break
    return seen

"""The trainer's spec for one attempt, from the job's resolved hyperparameters."""

from __future__ import annotations

from typing import Any

from sanacloud.model.train.spec import TrainSpec
from sanacloud.platform.jobs.lifecycle import RunContext
from sanacloud.workers.training.workspace import Workspace

MAX_STEP_EVENTS = 500  # per run: enough for a smooth loss curve, few enough rows
# Kept on the worker's disk: the newest for resume, and the one before while it uploads.
LOCAL_CHECKPOINTS = 2


def trainer_spec(context: RunContext, workspace: Workspace) -> TrainSpec:
    hp = context.hyperparameters
    steps = int(hp["steps"])
    fields: dict[str, Any] = {key: hp[key] for key in (
        "learning_rate", "batch_size", "gradient_accumulation_steps", "resolution", "seed", "checkpoint_interval",
        "validation_prompts", "warmup_steps", "lr_scheduler", "max_grad_norm", "flow_shift", "mixed_precision",
        "caption_dropout", "ema_decay", "gradient_checkpointing") if key in hp}
    if context.type == "lora":
        fields["lora"] = hp["lora"]
    else:
        fields["deepspeed"] = hp.get("deepspeed", {})
    return TrainSpec(
        model=context.base_family, model_path=workspace.base_model_path(), data_dir=workspace.data_dir,
        output_dir=workspace.output_dir, cache_dir=workspace.cache_dir, type=context.type, steps=steps,
        keep_checkpoints=LOCAL_CHECKPOINTS, log_every=max(1, steps // MAX_STEP_EVENTS), **fields)

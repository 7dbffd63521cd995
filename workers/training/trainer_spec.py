"""The trainer's spec for one attempt, from the job's resolved hyperparameters."""

from __future__ import annotations

from sanacloud.model.train.spec import TrainSpec
from sanacloud.platform.jobs.lifecycle import RunContext
from sanacloud.workers.training.workspace import Workspace

MAX_STEP_EVENTS = 500  # per run: enough for a smooth loss curve, few enough rows
# Kept on the worker's disk: the newest for resume, and the one before while it uploads.
LOCAL_CHECKPOINTS = 2


def trainer_spec(context: RunContext, workspace: Workspace) -> TrainSpec:
    """Every resolved hyperparameter (api/jobs/hyperparameters.py) is a TrainSpec field of the same
    name; the worker adds its paths and how often to log."""
    hp = context.hyperparameters
    return TrainSpec(
        **hp, model=context.base_family, model_path=workspace.base_model_path(), data_dir=workspace.data_dir,
        output_dir=workspace.output_dir, cache_dir=workspace.cache_dir, type=context.type,
        keep_checkpoints=LOCAL_CHECKPOINTS, log_every=max(1, int(hp["steps"]) // MAX_STEP_EVENTS))

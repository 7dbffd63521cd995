"""The trainer's spec for one attempt, from the job's resolved hyperparameters."""

from __future__ import annotations

from sanacloud.model.train.spec import PriorSpec, TrainSpec
from sanacloud.platform.jobs.lifecycle import RunContext
from sanacloud.workers.training.workspace import Workspace

MAX_STEP_EVENTS = 500  # per run: enough for a smooth loss curve, few enough rows
# Kept on the worker's disk: the newest for resume, and the one before while it uploads.
LOCAL_CHECKPOINTS = 2


def trainer_spec(context: RunContext, workspace: Workspace) -> TrainSpec:
    """Every resolved hyperparameter (api/jobs/hyperparameters.py) is a TrainSpec field of the same
    name (prior preservation's gains the folder its class dataset was downloaded to); the worker adds
    its paths (the checkpoint a new job starts from among them) and how often to log."""
    hp = dict(context.hyperparameters)
    prior = hp.pop("prior", None)
    return TrainSpec(
        **hp, prior=_prior(prior, workspace) if prior else None, model=context.base_family,
        model_path=workspace.base_model_path(), data_dir=workspace.data_dir,
        output_dir=workspace.output_dir, cache_dir=workspace.cache_dir, type=context.type,
        init_from=workspace.init_dir if context.init_from is not None else None,
        keep_checkpoints=LOCAL_CHECKPOINTS, log_every=max(1, int(hp["steps"]) // MAX_STEP_EVENTS))


def _prior(prior: dict[str, object], workspace: Workspace) -> PriorSpec:
    uploaded = workspace.class_data_dir if workspace.class_data_dir.is_dir() else None
    return PriorSpec.model_validate({**prior, "class_data_dir": uploaded})

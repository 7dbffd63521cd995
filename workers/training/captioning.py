"""A captioning job's attempt: the spec of `python -m sanacloud.model.captioning`, from the job's
captioners and scorer, skipping the images an earlier attempt of the job has captioned already."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sanacloud.model.captioning.base import TINY  # reads images itself: no model files
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.lifecycle import RunContext
from sanacloud.workers.training.workspace import Workspace

MODULE = "sanacloud.model.captioning"


def write_caption_spec(context: RunContext, workspace: Workspace, path: Path) -> None:
    hp = context.hyperparameters
    captioners = hp["captioners"]
    with session_scope() as session:
        skip = auto_captions.done_by(session, job_id=context.job_id, sources=[c["source"] for c in captioners],
                                     scored=bool(hp.get("scorer")))
    spec = {"data_dir": str(workspace.data_dir), "captioners": [_ref(c, workspace) for c in captioners],
            "scorer": _ref(hp["scorer"], workspace) if hp.get("scorer") else None, "skip": skip}
    path.write_text(json.dumps(spec, indent=2))


def _ref(model: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    path = None if model["family"] == TINY else workspace.model_path(model["uri"], model["model_id"])
    return {"source": model["source"], "family": model["family"], "path": None if path is None else str(path)}


def record(context: RunContext, results: list[dict[str, Any]], session: Any) -> None:
    scorer = context.hyperparameters.get("scorer")
    auto_captions.record(session, job_id=context.job_id, dataset_id=context.dataset_id, tenant_id=context.tenant_id,
                         scorer=scorer["source"] if scorer else None, results=results)

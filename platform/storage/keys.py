"""The object store's key layout: one function per kind of object the platform writes, and the
parser that reads a key back to the row that owns it (the orphan sweep's, `sweep.py`).

Every key names its owner, `tenants/<tenant>/<kind>/<id>/...`:

    datasets/<dataset>/images/<file>.<ext>           a dataset's image: the dataset_files row
    jobs/<job>/checkpoints/step-<n>/<path>           a checkpoint's files (sample images under
                                                     samples/): the checkpoint row, or the job
    models/<model>/<path>                            a promoted model's weights: the model
    endpoints/<endpoint>/generations/<gen>/<i>.png   a generated image: the generation

A checkpoint's and a model's files keep their path relative to the folder the trainer wrote, whose
names (`step-<n>`, the exports, samples/) sanacloud.model.train.checkpoint_layout owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sanacloud.model.train import checkpoint_layout as layout

TENANTS = "tenants/"

_SAFE_PART = re.compile(r"^[A-Za-z0-9._\-]+$")

OwnerKind = Literal["dataset", "job", "model", "generation"]


@dataclass(frozen=True)
class Owner:
    tenant_id: str
    kind: OwnerKind
    id: str


def tenant_key(tenant_id: str, *parts: str) -> str:
    """`tenants/<tenant_id>/<parts...>`, refusing any part that could step outside the prefix."""
    for part in (tenant_id, *parts):
        if not _SAFE_PART.match(part) or part in {".", ".."}:
            raise ValueError(f"unsafe object key part: {part!r}")
    return TENANTS + "/".join((tenant_id, *parts))


def tenant_prefix(tenant_id: str) -> str:
    return tenant_key(tenant_id) + "/"


def dataset_prefix(tenant_id: str, dataset_id: str) -> str:
    return tenant_key(tenant_id, "datasets", dataset_id) + "/"


def dataset_image(tenant_id: str, dataset_id: str, file_id: str, image_format: str) -> str:
    return tenant_key(tenant_id, "datasets", dataset_id, "images", f"{file_id}.{image_format}")


def job_prefix(tenant_id: str, job_id: str) -> str:
    return tenant_key(tenant_id, "jobs", job_id) + "/"


def checkpoint_prefix(tenant_id: str, job_id: str, step: int) -> str:
    return tenant_key(tenant_id, "jobs", job_id, "checkpoints", layout.step_folder(step)) + "/"


def is_sample_image(relative: str) -> bool:
    """Whether a checkpoint's file (its path below the checkpoint's prefix) is a sample image."""
    return relative.startswith(layout.SAMPLES_DIR + "/")


def is_exported_weights(job_type: str, relative: str) -> bool:
    """Whether a checkpoint's file is part of the weights a model serves with."""
    return relative == layout.LORA_WEIGHTS if job_type == "lora" else relative.startswith(layout.TRANSFORMER_DIR + "/")


def model_prefix(tenant_id: str, model_id: str) -> str:
    return tenant_key(tenant_id, "models", model_id) + "/"


def endpoint_prefix(tenant_id: str, endpoint_id: str) -> str:
    return tenant_key(tenant_id, "endpoints", endpoint_id) + "/"


def generation_image(tenant_id: str, endpoint_id: str, generation_id: str, index: int) -> str:
    return tenant_key(tenant_id, "endpoints", endpoint_id, "generations", generation_id, f"{index}.png")


def owner(key: str) -> Owner | None:
    """The row that decides whether the key is owned, for keys of a known shape."""
    match key.split("/"):
        case ["tenants", tenant, "datasets", dataset, "images", _]:
            return Owner(tenant, "dataset", dataset)
        case ["tenants", tenant, "jobs", job, "checkpoints", _, _, *_]:
            return Owner(tenant, "job", job)
        case ["tenants", tenant, "models", model, _, *_]:
            return Owner(tenant, "model", model)
        case ["tenants", tenant, "endpoints", _, "generations", generation, _]:
            return Owner(tenant, "generation", generation)
    return None

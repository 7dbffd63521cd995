"""Promotion: a checkpoint becomes a tenant's model, with its own copy of the weights.

The copy (the LoRA file, or a full fine-tune's `transformer/` folder) lives under the model's own
prefix, so deleting or pruning the job later cannot break a model or its endpoints.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sanacloud.platform.db.base import new_id
from sanacloud.platform.db.hooks import on_rollback
from sanacloud.platform.db.models import Checkpoint, Job, Model
from sanacloud.platform.errors import InvalidInput
from sanacloud.platform.storage import ObjectStore, keys

STORE_SCHEME = "store://"  # a model kept in the platform's own object store, under this prefix


def promote(session: Session, store: ObjectStore, *, checkpoint: Checkpoint, name: str) -> Model:
    job = session.get_one(Job, checkpoint.job_id)
    base = session.get_one(Model, job.base_model_id)
    model_id = new_id("mdl")
    prefix = keys.model_prefix(checkpoint.tenant_id, model_id)
    sources = [info for info in store.list(checkpoint.object_prefix)
               if keys.is_exported_weights(job.type, info.key.removeprefix(checkpoint.object_prefix))]
    if not sources:
        raise InvalidInput(f"checkpoint {checkpoint.id!r} has no exported weights to promote")
    on_rollback(session, lambda: store.delete_prefix(prefix))
    for info in sources:
        store.copy(info.key, prefix + info.key.removeprefix(checkpoint.object_prefix))
    model = Model(id=model_id, tenant_id=checkpoint.tenant_id, name=name, kind=job.type, family=base.family,
                  base_model_id=base.id, source_job_id=job.id, source_checkpoint_id=checkpoint.id,
                  source_step=checkpoint.step, trigger=job.hyperparameters.get("trigger"),
                  uri=STORE_SCHEME + prefix, status="ready")
    session.add(model)
    session.flush()
    return model

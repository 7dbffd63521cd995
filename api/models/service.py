"""A tenant's models: checkpoints promoted to something endpoints can serve."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.models import schemas
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import Checkpoint, Endpoint, Job, Model
from sanacloud.platform.db.scoped import get_owned
from sanacloud.platform.errors import Conflict
from sanacloud.platform.serving.promotion import STORE_SCHEME, promote
from sanacloud.platform.storage import ObjectInfo, ObjectStore, keys


def promote_checkpoint(session: Session, store: ObjectStore, *, actor: TenantPrincipal, checkpoint_id: str,
                       body: schemas.Promote) -> Model:
    checkpoint = get_owned(session, Checkpoint, checkpoint_id, tenant_id=actor.tenant_id, kind="checkpoint")
    return promote(session, store, checkpoint=checkpoint, name=body.name)


def checkpoint_weights(session: Session, store: ObjectStore, *, actor: TenantPrincipal,
                       checkpoint_id: str) -> tuple[Checkpoint, list[ObjectInfo]]:
    """The checkpoint's exported weights: a LoRA's one file, or a full run's transformer folder."""
    checkpoint = get_owned(session, Checkpoint, checkpoint_id, tenant_id=actor.tenant_id, kind="checkpoint")
    job_type = session.get_one(Job, checkpoint.job_id).type
    files = [info for info in store.list(checkpoint.object_prefix)
             if keys.is_exported_weights(job_type, info.key.removeprefix(checkpoint.object_prefix))]
    return checkpoint, sorted(files, key=lambda info: info.key)


def get(session: Session, *, actor: TenantPrincipal, model_id: str) -> Model:
    return get_owned(session, Model, model_id, tenant_id=actor.tenant_id, kind="model")


def list_models(session: Session, *, actor: TenantPrincipal, params: PageParams) -> tuple[list[Model], str | None]:
    rows, cursor = paginate(session, select(Model).where(Model.tenant_id == actor.tenant_id), Model.id, params)
    return list(rows), cursor


def delete(session: Session, store: ObjectStore, *, actor: TenantPrincipal, model_id: str) -> None:
    model = get_owned(session, Model, model_id, tenant_id=actor.tenant_id, kind="model", for_update=True)
    serving = session.scalars(select(Endpoint.id).where(Endpoint.model_id == model.id)).all()
    if serving:
        raise Conflict(f"model {model.id!r} is served by endpoint(s) {', '.join(serving)}; delete them first")
    session.delete(model)
    prefix = model.uri.removeprefix(STORE_SCHEME)
    on_commit(session, lambda: store.delete_prefix(prefix))

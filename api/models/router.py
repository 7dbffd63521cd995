from __future__ import annotations

from fastapi import APIRouter

from sanacloud.api.deps import SessionDep, SettingsDep, StoreDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.models import schemas, service
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page

router = APIRouter(prefix="/v1", tags=["models"], responses=AUTHENTICATED)


@router.post("/checkpoints/{checkpoint_id}/promote", status_code=201)
def checkpoints_promote(checkpoint_id: str, body: schemas.Promote, session: SessionDep, store: StoreDep,
                        actor: TenantDep) -> schemas.ModelOut:
    """Make a checkpoint a model (its weights are copied, so the job may be deleted later)."""
    model = service.promote_checkpoint(session, store, actor=actor, checkpoint_id=checkpoint_id, body=body)
    return schemas.ModelOut.model_validate(model)


@router.get("/checkpoints/{checkpoint_id}/files")
def checkpoints_list_files(checkpoint_id: str, session: SessionDep, store: StoreDep, settings: SettingsDep,
                           actor: TenantDep) -> list[schemas.CheckpointFileOut]:
    """A checkpoint's weights to download: the LoRA file, or a full run's transformer files."""
    checkpoint, files = service.checkpoint_weights(session, store, actor=actor, checkpoint_id=checkpoint_id)
    return [schemas.CheckpointFileOut(name=info.key.removeprefix(checkpoint.object_prefix), size_bytes=info.size,
                                      url=store.presigned_get_url(info.key, settings.presign_ttl_s))
            for info in files]


@router.get("/models")
def models_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[schemas.ModelOut]:
    rows, cursor = service.list_models(session, actor=actor, params=page)
    return to_page(rows, cursor, schemas.ModelOut)


@router.get("/models/{model_id}")
def models_get(model_id: str, session: SessionDep, actor: TenantDep) -> schemas.ModelOut:
    return schemas.ModelOut.model_validate(service.get(session, actor=actor, model_id=model_id))


@router.delete("/models/{model_id}", status_code=204, responses=problems(409))
def models_delete(model_id: str, session: SessionDep, store: StoreDep, actor: TenantDep) -> None:
    service.delete(session, store, actor=actor, model_id=model_id)

from __future__ import annotations

from fastapi import APIRouter, Response

from sanacloud.api.deps import SessionDep, SettingsDep, StoreDep, TenantDep
from sanacloud.api.endpoints import schemas, service
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page
from sanacloud.platform.db.models import Generation
from sanacloud.platform.serving.states import GENERATION_ENDED
from sanacloud.platform.settings import Settings
from sanacloud.platform.storage import ObjectStore

router = APIRouter(prefix="/v1", tags=["endpoints"], responses=AUTHENTICATED)


@router.post("/endpoints", status_code=201, responses=problems(404, 409))
def endpoints_create(body: schemas.EndpointCreate, session: SessionDep, actor: TenantDep) -> schemas.EndpointOut:
    return schemas.EndpointOut.model_validate(service.create(session, actor=actor, body=body))


@router.get("/endpoints")
def endpoints_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[schemas.EndpointOut]:
    rows, cursor = service.list_endpoints(session, actor=actor, params=page)
    return to_page(rows, cursor, schemas.EndpointOut)


@router.get("/endpoints/{endpoint_id}")
def endpoints_get(endpoint_id: str, session: SessionDep, actor: TenantDep) -> schemas.EndpointOut:
    return schemas.EndpointOut.model_validate(service.get(session, actor=actor, endpoint_id=endpoint_id))


@router.patch("/endpoints/{endpoint_id}")
def endpoints_update(endpoint_id: str, body: schemas.EndpointUpdate, session: SessionDep,
                     actor: TenantDep) -> schemas.EndpointOut:
    return schemas.EndpointOut.model_validate(service.update(session, actor=actor, endpoint_id=endpoint_id,
                                                             body=body))


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def endpoints_delete(endpoint_id: str, session: SessionDep, store: StoreDep, actor: TenantDep) -> None:
    service.delete(session, store, actor=actor, endpoint_id=endpoint_id)


@router.post("/endpoints/{endpoint_id}/generate", status_code=200,
             responses={202: {"model": schemas.GenerationOut,
                              "description": "not finished yet (or wait=false): poll the generation"}})
def endpoints_generate(endpoint_id: str, body: schemas.GenerateRequest, response: Response, session: SessionDep,
                       store: StoreDep, settings: SettingsDep, actor: TenantDep) -> schemas.GenerationOut:
    """Generate images; with `wait` (the default) the answer carries them, as presigned URLs."""
    generation = service.generate(session, actor=actor, endpoint_id=endpoint_id, body=body)
    session.commit()  # the worker must see the request before we wait for it
    if body.wait:
        generation = service.wait(session, generation.id, body.timeout_s)
    if generation.status not in GENERATION_ENDED:
        response.status_code = 202
    response.headers["Location"] = f"/v1/generations/{generation.id}"
    return generation_out(generation, store, settings)


@router.get("/generations/{generation_id}")
def generations_get(generation_id: str, session: SessionDep, store: StoreDep, settings: SettingsDep,
                    actor: TenantDep) -> schemas.GenerationOut:
    return generation_out(service.get_generation(session, actor=actor, generation_id=generation_id), store, settings)


def generation_out(generation: Generation, store: ObjectStore, settings: Settings) -> schemas.GenerationOut:
    return schemas.GenerationOut(
        id=generation.id, endpoint_id=generation.endpoint_id, status=generation.status, params=generation.params,
        timings=generation.timings, error=generation.error, created_at=generation.created_at,
        started_at=generation.started_at, finished_at=generation.finished_at,
        image_urls=[store.presigned_get_url(key, settings.presign_ttl_s) for key in generation.image_keys])

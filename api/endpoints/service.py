"""Inference endpoints: create, inspect, update, delete; generate (recorded, rate limited, queued
to the pool's inference workers; a cold endpoint first needs a free GPU within the quota)."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.endpoints import schemas
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform import accounts, tenant_caps
from sanacloud.platform.catalog import FAMILIES
from sanacloud.platform.cluster.executor import get_executor
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import Endpoint, Generation, GpuPool, Model
from sanacloud.platform.db.scoped import get_owned
from sanacloud.platform.errors import InvalidInput, NotFound, TooManyRequests, Unavailable
from sanacloud.platform.scheduler import room
from sanacloud.platform.scheduler.admission import lock_pool
from sanacloud.platform.scheduler.policy import WaitKind
from sanacloud.platform.serving import generations, replicas
from sanacloud.platform.serving.generations import serving_key, warm_gpus
from sanacloud.platform.serving.states import (
    GENERATION_ENDED,
    WARM,
    EndpointStatus,
    GenerationStatus,
    transition_endpoint,
)
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import ObjectStore, keys

POLL_S = 0.1


def get(session: Session, *, actor: TenantPrincipal, endpoint_id: str, for_update: bool = False) -> Endpoint:
    return get_owned(session, Endpoint, endpoint_id, tenant_id=actor.tenant_id, kind="endpoint",
                     for_update=for_update)


def create(session: Session, *, actor: TenantPrincipal, body: schemas.EndpointCreate) -> Endpoint:
    tenant_caps.ensure_room(session, tenant_id=actor.tenant_id, kind=tenant_caps.Kind.ENDPOINTS)
    model = _servable(session, actor, body.model)
    _check_resolution(model, body.defaults.resolution)
    pool = accounts.pool_for(session, tenant_id=actor.tenant_id, name=body.pool)
    endpoint = Endpoint(tenant_id=actor.tenant_id, model_id=model.id, pool_id=pool.id, name=body.name,
                        status=EndpointStatus.COLD, min_replicas=body.min_replicas, max_replicas=body.max_replicas,
                        idle_timeout_s=body.idle_timeout_s, rate_limit_per_minute=body.rate_limit_per_minute,
                        defaults=body.defaults.model_dump())
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(session: Session, *, actor: TenantPrincipal,
                   params: PageParams) -> tuple[list[Endpoint], str | None]:
    query = select(Endpoint).where(Endpoint.tenant_id == actor.tenant_id)
    rows, cursor = paginate(session, query, Endpoint.id, params)
    return list(rows), cursor


def update(session: Session, *, actor: TenantPrincipal, endpoint_id: str, body: schemas.EndpointUpdate) -> Endpoint:
    endpoint = get(session, actor=actor, endpoint_id=endpoint_id, for_update=True)
    changes = {field: value for field, value in body.model_dump(exclude_unset=True).items() if value is not None}
    if body.defaults is not None:  # merged: fields not given keep their values
        changes["defaults"] = {**endpoint.defaults, **body.defaults.model_dump(exclude_unset=True)}
        _check_resolution(session.get_one(Model, endpoint.model_id), changes["defaults"]["resolution"])
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.updated_at = utcnow()
    return endpoint


def delete(session: Session, store: ObjectStore, *, actor: TenantPrincipal, endpoint_id: str) -> None:
    endpoint = get(session, actor=actor, endpoint_id=endpoint_id, for_update=True)
    session.delete(endpoint)
    on_commit(session, partial(store.delete_prefix, keys.endpoint_prefix(endpoint.tenant_id, endpoint.id)))


def generate(session: Session, *, actor: TenantPrincipal, endpoint_id: str,
             body: schemas.GenerateRequest) -> Generation:
    endpoint = get(session, actor=actor, endpoint_id=endpoint_id)
    model = session.get_one(Model, endpoint.model_id)
    params = _params(model, endpoint.defaults, body)
    _enforce_rate_limit(session, endpoint)
    pool = lock_pool(session, endpoint.pool_id)
    assert pool is not None
    endpoint = get(session, actor=actor, endpoint_id=endpoint_id, for_update=True)
    executor = get_executor(get_settings())
    if endpoint.status not in WARM:
        _reserve_gpu(session, endpoint, model, pool)
        executor.wake_after_commit(session)
    elif replicas.grow_if_backlogged(session, endpoint, model, pool, images=params["num_images"],
                                     batch=get_settings().inference_max_batch,
                                     executor_max=executor.max_inference_replicas):
        executor.wake_after_commit(session)
    generation = Generation(tenant_id=actor.tenant_id, endpoint_id=endpoint.id, status=GenerationStatus.PENDING,
                            params=params)
    session.add(generation)
    endpoint.last_request_at = utcnow()
    session.flush()
    generations.send_after_commit(session, generation_id=generation.id,
                                  queue=executor.inference_queue(pool.name, serving_key(model)))
    return generation


def wait(session: Session, generation_id: str, timeout_s: float) -> Generation:
    """Poll (each read its own short transaction) until the generation ends or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        session.expire_all()
        generation = session.get_one(Generation, generation_id)
        session.commit()
        if generation.status in GENERATION_ENDED or time.monotonic() >= deadline:
            return generation
        time.sleep(POLL_S)


def get_generation(session: Session, *, actor: TenantPrincipal, generation_id: str) -> Generation:
    return get_owned(session, Generation, generation_id, tenant_id=actor.tenant_id, kind="generation")


SERVABLE_KINDS = ("base", "lora", "full")  # not captioners and scorers, which are models too


def _servable(session: Session, actor: TenantPrincipal, name_or_id: str) -> Model:
    model = session.scalar(select(Model).where(
        or_(Model.tenant_id == actor.tenant_id, Model.tenant_id.is_(None)), Model.kind.in_(SERVABLE_KINDS),
        or_(Model.id == name_or_id, (Model.name == name_or_id) & (Model.kind == "base"))))
    if model is None:
        raise NotFound.of("model", name_or_id)
    if model.status != "ready":
        raise InvalidInput(f"model {model.name!r} is {model.status}, not ready")
    return model


def _check_resolution(model: Model, resolution: int | None) -> None:
    if resolution is not None:
        FAMILIES[model.family].check_resolution(resolution)


def _params(model: Model, defaults: dict[str, Any], body: schemas.GenerateRequest) -> dict[str, Any]:
    resolution = body.resolution or defaults.get("resolution") or FAMILIES[model.family].spec.resolution
    _check_resolution(model, resolution)
    return {"model_id": model.id, "prompt": body.prompt, "negative_prompt": body.negative_prompt,
            "seed": secrets.randbelow(2**31) if body.seed is None else body.seed,
            "steps": body.steps or defaults["steps"], "guidance": body.guidance or defaults["guidance"],
            "resolution": resolution, "sampler": body.sampler or defaults["sampler"], "num_images": body.num_images}


def _enforce_rate_limit(session: Session, endpoint: Endpoint) -> None:
    recent = session.scalar(select(func.count()).select_from(Generation).where(
        Generation.endpoint_id == endpoint.id, Generation.created_at > utcnow() - timedelta(minutes=1))) or 0
    if recent >= endpoint.rate_limit_per_minute:
        raise TooManyRequests(f"endpoint {endpoint.id!r} allows {endpoint.rate_limit_per_minute} generations per "
                              "minute; try again shortly", retry_after_s=10)


def _reserve_gpu(session: Session, endpoint: Endpoint, model: Model, pool: GpuPool) -> None:
    """A cold endpoint needs its model held: free if the tenant already holds it for another warm
    endpoint (its LoRAs share the base), else one more GPU within capacity and the tenant's quota."""
    held = {(warm.tenant_id, warm.key) for warm in warm_gpus(session, pool.id)}
    if (endpoint.tenant_id, serving_key(model)) not in held:
        refused = room.no_room_now(session, tenant_id=endpoint.tenant_id, pool=pool)
        if refused is not None and refused.kind is WaitKind.QUOTA:
            raise Unavailable(f"starting endpoint {endpoint.id!r} needs a GPU, but your quota on pool {pool.name!r} "
                              f"({refused.limit} GPUs) is in use by your jobs and endpoints")
        if refused is not None:
            raise Unavailable(f"no GPU of pool {pool.name!r} is free to start endpoint {endpoint.id!r}; "
                              "try again later")
    transition_endpoint(endpoint, EndpointStatus.LOADING)
    endpoint.error = None

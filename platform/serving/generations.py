"""A generation's life: recorded by the API, claimed in compatible batches by an inference
worker, finished with its images and timings. Endpoints follow: cold → loading → ready, and back
to cold when their worker lets the model go after the idle timeout (the moves: `states`).

Requests can share one batch when they run on the same model with the same steps, guidance,
resolution, sampler and negative prompt; only their prompts and seeds differ.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform import queues
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import Endpoint, Generation, Model
from sanacloud.platform.db.scoped import locked
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.observability.metrics import observe_generation
from sanacloud.platform.serving.states import (
    GENERATION_ENDED,
    WARM,
    EndpointStatus,
    GenerationStatus,
    can_transition_endpoint,
    transition_endpoint,
    transition_generation,
)
from sanacloud.platform.webhooks.events import EventType, emit

log = logging.getLogger(__name__)
BATCH_KEYS = ("steps", "guidance", "resolution", "sampler", "negative_prompt")


@dataclass(frozen=True)
class ServedModel:
    """What a worker loads: a base model, optionally with a LoRA or a full fine-tune's transformer."""

    model_id: str
    kind: str  # base | lora | full
    family: str
    uri: str
    base_model_id: str
    base_uri: str


@dataclass(frozen=True)
class Request:
    generation_id: str
    tenant_id: str
    endpoint_id: str
    params: dict[str, Any]
    queued_s: float


def serving_key(model: Model) -> str:
    """What a worker holds in memory for this model: the base (shared by its LoRAs) or a full fine-tune."""
    return model.id if model.kind == "full" else (model.base_model_id or model.id)


@dataclass(frozen=True)
class WarmEndpoint:
    id: str
    idle_timeout_s: int
    min_replicas: int  # >= 1: kept warm however idle
    replicas: int = 1


@dataclass(frozen=True)
class WarmModel:
    """A model held in memory for warm endpoints: one GPU of the pool. A tenant's endpoints on one
    base share its GPU, as they share the loaded base."""

    tenant_id: str
    key: str  # serving_key
    endpoints: tuple[WarmEndpoint, ...]

    @property
    def gpus(self) -> int:
        """Its replicas: endpoints that share a loaded model share its replicas too."""
        return max([1, *(endpoint.replicas for endpoint in self.endpoints)])

    @property
    def holder_id(self) -> str:
        """Its id among the scheduler's GPU holders (job ids otherwise)."""
        return f"serving:{self.tenant_id}:{self.key}"


def warm_gpus(session: Session, pool_id: str) -> list[WarmModel]:
    """Every model held for warm endpoints in the pool, a GPU per replica."""
    rows = session.execute(select(Endpoint.tenant_id, Endpoint.id, Endpoint.idle_timeout_s, Endpoint.min_replicas,
                                  Endpoint.replicas, Model).join(Model, Model.id == Endpoint.model_id)
                           .where(Endpoint.pool_id == pool_id, Endpoint.status.in_(WARM)).order_by(Endpoint.id))
    held: dict[tuple[str, str], list[WarmEndpoint]] = defaultdict(list)
    for tenant_id, endpoint_id, idle_timeout_s, min_replicas, replicas, model in rows:
        held[(tenant_id, serving_key(model))].append(WarmEndpoint(endpoint_id, idle_timeout_s, min_replicas, replicas))
    return [WarmModel(tenant_id, key, tuple(endpoints)) for (tenant_id, key), endpoints in sorted(held.items())]


def served_model(session: Session, model: Model) -> ServedModel:
    base = session.get_one(Model, model.base_model_id) if model.base_model_id else model
    return ServedModel(model_id=model.id, kind=model.kind, family=model.family, uri=model.uri,
                       base_model_id=base.id, base_uri=base.uri)


def claim_batch(session: Session, *, generation_id: str, max_images: int,
                worker: str) -> tuple[ServedModel, list[Request]] | None:
    """Take this pending generation and compatible pending ones (up to `max_images` images)."""
    first = locked(session, Generation, generation_id)
    if first is None or first.status != GenerationStatus.PENDING:
        return None
    model = session.get_one(Model, session.get_one(Endpoint, first.endpoint_id).model_id)
    key = {k: first.params.get(k) for k in BATCH_KEYS}
    candidates = session.scalars(
        select(Generation).join(Endpoint, Endpoint.id == Generation.endpoint_id)
        .where(Generation.status == GenerationStatus.PENDING, Generation.id != first.id, Endpoint.model_id == model.id)
        .order_by(Generation.created_at).limit(64).with_for_update(skip_locked=True, of=Generation))
    batch, images = [first], int(first.params["num_images"])
    for other in candidates:
        if {k: other.params.get(k) for k in BATCH_KEYS} == key and images + other.params["num_images"] <= max_images:
            batch.append(other)
            images += int(other.params["num_images"])
    now = utcnow()
    requests = []
    for generation in batch:
        transition_generation(generation, GenerationStatus.RUNNING)
        generation.worker = worker
        requests.append(Request(generation.id, generation.tenant_id, generation.endpoint_id, dict(generation.params),
                                (now - generation.created_at).total_seconds()))
    return served_model(session, model), requests


def mark_endpoints(session: Session, endpoint_ids: set[str], status: EndpointStatus, *, worker: str | None,
                   error: str | None = None) -> None:
    """A worker's report on endpoints it read earlier: one whose status has changed since, so that
    this move is not allowed (scaling down an endpoint that failed meanwhile), is left as it is."""
    for endpoint in session.scalars(select(Endpoint).where(Endpoint.id.in_(endpoint_ids)).with_for_update()):
        moves = endpoint.status != status
        if moves and not can_transition_endpoint(endpoint.status, status):
            continue
        endpoint.worker, endpoint.error = worker, error  # before the move: its webhook event carries the error
        if moves:
            transition_endpoint(endpoint, status)


def finish(session: Session, *, generation_id: str, image_keys: list[str], timings: dict[str, float],
           error: str | None = None) -> None:
    """End the generation; one that already ended (failed by the tick meanwhile) keeps its outcome."""
    generation = locked(session, Generation, generation_id)
    if generation is None or generation.status in GENERATION_ENDED:
        return
    transition_generation(generation, GenerationStatus.FAILED if error else GenerationStatus.SUCCEEDED)
    generation.image_keys, generation.timings, generation.error = image_keys, timings, error
    observe_generation(timings)
    emit(session, tenant_id=generation.tenant_id, type=EventType.GENERATION_FINISHED,
         data={"generation_id": generation.id, "endpoint_id": generation.endpoint_id, "status": generation.status,
               "error": error, "images": len(image_keys), "timings": timings})


def send_after_commit(session: Session, *, generation_id: str, queue: str) -> None:
    """Queue the generation for an inference worker once its row is committed. A broker that refuses
    it fails the generation at once, saying so, rather than leave its caller waiting."""
    on_commit(session, partial(_send, generation_id, queue))


def _send(generation_id: str, queue: str) -> None:
    try:
        queues.send_inference(generation_id, queue)
    except Exception:  # whatever the transport raises, the caller must learn of it
        log.warning("could not send generation %s to the broker", generation_id, exc_info=True)
        with session_scope() as session:
            generation = locked(session, Generation, generation_id)
            if generation is not None and generation.status == GenerationStatus.PENDING:
                finish(session, generation_id=generation_id, image_keys=[], timings={},
                       error="the platform's task broker could not be reached; nothing was generated, retry shortly")


def fail_abandoned(session: Session, *, timeout_s: float) -> list[str]:
    """Generations no worker finished in `timeout_s` fail, saying why: a worker that died while
    sampling leaves its generations running, and a pool without inference workers leaves them pending."""
    deadline = utcnow() - timedelta(seconds=timeout_s)
    stuck = session.scalars(select(Generation).where(Generation.status.not_in(GENERATION_ENDED),
                                                     Generation.created_at < deadline).with_for_update()).all()
    for generation in stuck:
        lost = ("its inference worker stopped while sampling" if generation.status == GenerationStatus.RUNNING
                else "no inference worker of the endpoint's pool took it")
        finish(session, generation_id=generation.id, image_keys=[], timings={},
               error=f"not finished after {timeout_s:.0f} s (SANACLOUD_GENERATION_TIMEOUT_S): {lost}; retry")
    return [generation.id for generation in stuck]


def cool_abandoned(session: Session, *, grace_s: float) -> list[str]:
    """Endpoints left warm by a worker that is gone (its sweeper would have cooled them): cold
    once idle for their timeout plus `grace_s`, so they stop holding a GPU of the quota."""
    now = utcnow()
    warm = session.scalars(select(Endpoint).where(Endpoint.status.in_(WARM), Endpoint.min_replicas == 0)
                           .with_for_update()).all()
    cooled = [e for e in warm if now - (e.last_request_at or e.updated_at)
              > timedelta(seconds=e.idle_timeout_s + grace_s)]
    for endpoint in cooled:
        transition_endpoint(endpoint, EndpointStatus.COLD)
        endpoint.worker = None
    return [endpoint.id for endpoint in cooled]

"""The endpoint and generation state machines: where their statuses change, each move checked
against its table (a move not listed is a bug and raises).

generation: pending → running → succeeded | failed; pending → failed when no worker takes it.
endpoint: cold → loading → ready → scaling_down → cold, and failed when its model cannot load;
it holds a GPU of its pool while loading or ready.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.orm import object_session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.transitions import IllegalTransition, allowed

if TYPE_CHECKING:  # the models name these statuses as their defaults
    from sanacloud.platform.db.models import Endpoint, Generation


class GenerationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


G = GenerationStatus
GENERATION_ENDED = frozenset({G.SUCCEEDED, G.FAILED})
GENERATION_ALLOWED: dict[GenerationStatus, frozenset[GenerationStatus]] = {
    G.PENDING: frozenset({G.RUNNING, G.FAILED}),  # failed: the broker refused it, or no worker took it in time
    G.RUNNING: frozenset({G.SUCCEEDED, G.FAILED}),
    G.SUCCEEDED: frozenset(),
    G.FAILED: frozenset(),
}


class EndpointStatus(StrEnum):
    COLD = "cold"
    LOADING = "loading"
    READY = "ready"
    SCALING_DOWN = "scaling_down"
    FAILED = "failed"


E = EndpointStatus
WARM = (E.LOADING, E.READY)  # the endpoint holds a GPU
# Loading starts only where no GPU is held (a request reserves one). A worker's report that it
# loaded the model (ready) or could not (failed) holds whatever the row said since: a request of
# the endpoint may ride in another's batch. Cold: scaled to zero by its worker, or cooled by the
# tick when that worker is gone; a failed endpoint stays failed until a request loads it again.
ENDPOINT_ALLOWED: dict[EndpointStatus, frozenset[EndpointStatus]] = {
    E.COLD: frozenset({E.LOADING, E.READY, E.FAILED}),
    E.LOADING: frozenset({E.READY, E.FAILED, E.SCALING_DOWN, E.COLD}),
    E.READY: frozenset({E.FAILED, E.SCALING_DOWN, E.COLD}),
    E.SCALING_DOWN: frozenset({E.COLD, E.LOADING, E.READY, E.FAILED}),
    E.FAILED: frozenset({E.LOADING, E.READY}),
}


def transition_generation(generation: Generation, target: GenerationStatus) -> None:
    if not allowed(GENERATION_ALLOWED, generation.status, target):
        raise IllegalTransition("generation", generation.id, generation.status, target)
    now = utcnow()
    generation.status = target
    if target is G.RUNNING:
        generation.started_at = now
    if target in GENERATION_ENDED:
        generation.finished_at = now


def can_transition_endpoint(current: str, target: EndpointStatus) -> bool:
    return allowed(ENDPOINT_ALLOWED, current, target)


def transition_endpoint(endpoint: Endpoint, target: EndpointStatus) -> None:
    if not can_transition_endpoint(endpoint.status, target):
        raise IllegalTransition("endpoint", endpoint.id, endpoint.status, target)
    previous = endpoint.status
    endpoint.status, endpoint.updated_at = target, utcnow()
    session = object_session(endpoint)
    if session is not None:  # the transaction that will store the move records its event
        from sanacloud.platform.webhooks.events import EventType, emit  # here: the models import this module

        data: dict[str, str | None] = {"endpoint_id": endpoint.id, "endpoint_name": endpoint.name,
                                       "model_id": endpoint.model_id, "from": str(previous), "to": str(target)}
        if target is E.FAILED:
            data["error"] = endpoint.error
        emit(session, tenant_id=endpoint.tenant_id, type=EventType.ENDPOINT_STATUS, data=data)
    # A warm endpoint holds at least one replica (a GPU); any other lets go of all of them.
    endpoint.replicas = max(endpoint.replicas or 0, 1) if target in WARM else 0  # None: not flushed yet

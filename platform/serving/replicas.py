"""How many inference replicas (GPUs) a warm model holds: one from its cold start; one more each
time a request finds more images queued for it than its replicas sample in one batch, up to the
endpoint's `max_replicas` (and the executor's: a local worker is one replica) and within the
tenant's quota and the pool's capacity, checked under the pool's lock as any GPU a tenant takes;
back to one when nothing is queued (each tick). The Kubernetes executor gives each replica a pod."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Endpoint, Generation, GpuPool, Model
from sanacloud.platform.scheduler import room
from sanacloud.platform.serving.generations import serving_key, warm_gpus
from sanacloud.platform.serving.states import GENERATION_ENDED, WARM

MAX_REPLICAS = 8  # an endpoint's max_replicas at most


def _queued_images(session: Session, endpoint_ids: list[str]) -> int:
    params = session.scalars(select(Generation.params).where(Generation.endpoint_id.in_(endpoint_ids),
                                                             Generation.status.not_in(GENERATION_ENDED)))
    return sum(int(p.get("num_images", 1)) for p in params)


def grow_if_backlogged(session: Session, endpoint: Endpoint, model: Model, pool: GpuPool, *, images: int,
                       batch: int, executor_max: int) -> bool:
    """Under the pool's lock, for a warm endpoint about to queue `images` more: one more replica if
    its model's queue needs it and may have it. True when it grew."""
    warm = next((w for w in warm_gpus(session, pool.id)
                 if w.tenant_id == endpoint.tenant_id and w.key == serving_key(model)), None)
    if warm is None or warm.gpus >= min(endpoint.max_replicas, executor_max):
        return False
    backlog = _queued_images(session, [e.id for e in warm.endpoints]) + images
    if math.ceil(backlog / batch) <= warm.gpus or room.no_room_now(session, tenant_id=endpoint.tenant_id, pool=pool):
        return False
    endpoint.replicas = warm.gpus + 1
    return True


def shrink_idle(session: Session) -> list[str]:
    """Warm endpoints holding extra replicas with nothing queued go back to one."""
    grown = session.scalars(select(Endpoint).where(Endpoint.status.in_(WARM), Endpoint.replicas > 1)
                            .with_for_update()).all()
    shrunk = [e for e in grown if _queued_images(session, [e.id]) == 0]
    for endpoint in shrunk:
        endpoint.replicas = 1
    return [endpoint.id for endpoint in shrunk]

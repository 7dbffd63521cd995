"""Whether a tenant may hold more GPUs of a pool, by the rules the scheduler admits by (`policy`):
for the callers outside a plan, a job's submission (could it ever start?) and an endpoint's cold
start (may it take a GPU now?)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import GpuPool, Quota
from sanacloud.platform.scheduler import policy
from sanacloud.platform.scheduler.holders import gpu_holders
from sanacloud.platform.scheduler.policy import WaitKind


@dataclass(frozen=True)
class NoRoom:
    """Why not. LARGER_THAN_POOL and CAPACITY: `limit` is the pool's capacity; QUOTA: the tenant's
    nominal quota plus borrowing limit in the pool."""

    kind: WaitKind
    limit: int


def _quota(session: Session, *, tenant_id: str, pool_id: str) -> policy.Quota:
    row = session.scalar(select(Quota).where(Quota.tenant_id == tenant_id, Quota.pool_id == pool_id))
    return policy.Quota(row.nominal_gpus, row.borrowing_limit_gpus) if row else policy.Quota(0, 0)


def never_fits(session: Session, *, tenant_id: str, pool: GpuPool, gpus: int) -> NoRoom | None:
    """Why a job of `gpus` GPUs could never be admitted in the pool, whatever else runs; None if it could."""
    if gpus > pool.capacity_gpus:
        return NoRoom(WaitKind.LARGER_THAN_POOL, pool.capacity_gpus)
    limit = _quota(session, tenant_id=tenant_id, pool_id=pool.id).limit
    return NoRoom(WaitKind.QUOTA, limit) if gpus > limit else None


def no_room_now(session: Session, *, tenant_id: str, pool: GpuPool, gpus: int = 1) -> NoRoom | None:
    """Why the tenant may not take `gpus` more GPUs of the pool now (its quota is in use, or the
    pool's GPUs are); None if it may. Call it under the pool's lock (`lock_pool`): what it counts
    then stays true until the caller commits."""
    holders = gpu_holders(session, pool.id)
    limit = _quota(session, tenant_id=tenant_id, pool_id=pool.id).limit
    if sum(holder.gpus for holder in holders if holder.tenant_id == tenant_id) + gpus > limit:
        return NoRoom(WaitKind.QUOTA, limit)
    if sum(holder.gpus for holder in holders) + gpus > pool.capacity_gpus:
        return NoRoom(WaitKind.CAPACITY, pool.capacity_gpus)
    return None

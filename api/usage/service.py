"""GPU usage: a tenant's own per pool (with what holds its GPUs now), and the admin's report over
all tenants and pools."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.api.usage import schemas
from sanacloud.platform import tenant_caps
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool, Job, Quota, Tenant
from sanacloud.platform.errors import InvalidInput
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.scheduler.holders import GpuHolder, gpu_holders
from sanacloud.platform.scheduler.usage import report, series

DEFAULT_WINDOW = timedelta(days=30)


def interval(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or utcnow()
    start = since or end - DEFAULT_WINDOW
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("since and until need a time zone, e.g. 2026-11-01T00:00:00Z")
    if start >= end:
        raise InvalidInput(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end


def tenant_usage(session: Session, *, tenant_id: str, since: datetime, until: datetime) -> schemas.TenantUsage:
    """Every pool the tenant has a quota on, used in the interval, or holds GPUs of now."""
    billed = {line.pool: line for line in report(session, since=since, until=until, tenant_id=tenant_id)}
    quotas = {quota.pool_id: quota for quota in session.scalars(select(Quota).where(Quota.tenant_id == tenant_id))}
    pools = []
    for pool in session.scalars(select(GpuPool).order_by(GpuPool.name)):
        held = [holder for holder in gpu_holders(session, pool.id) if holder.tenant_id == tenant_id]
        quota, line = quotas.get(pool.id), billed.get(pool.name)
        if quota is None and line is None and not held:
            continue
        pools.append(schemas.PoolUsage(
            pool=pool.name, gpu_seconds=line.gpu_seconds if line else 0.0, jobs=line.jobs if line else 0,
            **_in_use(held), holders=[_holder_out(holder) for holder in held],
            nominal_gpus=quota.nominal_gpus if quota else 0,
            borrowing_limit_gpus=quota.borrowing_limit_gpus if quota else 0))
    caps = [schemas.CapOut(kind=kind.value, used=used, limit=limit)
            for kind, (used, limit) in tenant_caps.usage(session, tenant_id).items()]
    return schemas.TenantUsage(since=since, until=until, pools=pools, caps=caps)


def admin_report(session: Session, *, since: datetime, until: datetime, tenant_id: str | None) -> schemas.UsageReport:
    names = {tenant_id: name for tenant_id, name in session.execute(select(Tenant.id, Tenant.name))}
    lines = [schemas.UsageLineOut(tenant_id=line.tenant_id, tenant=names.get(line.tenant_id, ""), pool=line.pool,
                                  gpu_seconds=line.gpu_seconds, jobs=line.jobs)
             for line in report(session, since=since, until=until, tenant_id=tenant_id)]
    return schemas.UsageReport(since=since, until=until, lines=lines,
                               total_gpu_seconds=round(sum(line.gpu_seconds for line in lines), 3),
                               pools=_pools_now(session, tenant_id))


def admin_series(session: Session, *, since: datetime, until: datetime, buckets: int,
                 tenant_id: str | None) -> schemas.UsageSeries:
    names = {row.id: row.name for row in session.execute(select(Tenant.id, Tenant.name))}
    width = (until - since) / buckets
    lines = [schemas.UsageSeriesLineOut(tenant_id=tenant, tenant=names.get(tenant, ""), pool=pool, gpu_seconds=values)
             for (tenant, pool), values in series(session, since=since, until=until, buckets=buckets,
                                                  tenant_id=tenant_id).items()]
    return schemas.UsageSeries(since=since, until=until, bucket_s=width.total_seconds(),
                               starts=[since + width * index for index in range(buckets)], lines=lines)


def _pools_now(session: Session, tenant_id: str | None) -> list[schemas.PoolNow]:
    queued = select(Job.pool_id, func.count()).where(Job.status == JobStatus.QUEUED).group_by(Job.pool_id)
    if tenant_id is not None:
        queued = queued.where(Job.tenant_id == tenant_id)
    waiting = {pool_id: int(count) for pool_id, count in session.execute(queued)}
    pools = []
    for pool in session.scalars(select(GpuPool).order_by(GpuPool.name)):
        held = [holder for holder in gpu_holders(session, pool.id) if tenant_id in (None, holder.tenant_id)]
        pools.append(schemas.PoolNow(
            pool=pool.name, capacity_gpus=pool.capacity_gpus, **_in_use(held), queued_jobs=waiting.get(pool.id, 0),
            holders=[schemas.TenantGpuHolderOut(tenant_id=holder.tenant_id, kind=holder.kind, ids=list(holder.ids),
                                                gpus=holder.gpus) for holder in held]))
    return pools


def _in_use(held: Sequence[GpuHolder]) -> dict[str, int]:
    by_jobs = sum(holder.gpus for holder in held if holder.kind == "job")
    by_endpoints = sum(holder.gpus for holder in held if holder.kind == "endpoint")
    return {"gpus_in_use": by_jobs + by_endpoints, "gpus_held_by_jobs": by_jobs, "gpus_held_by_endpoints": by_endpoints}


def _holder_out(holder: GpuHolder) -> schemas.GpuHolderOut:
    return schemas.GpuHolderOut(kind=holder.kind, ids=list(holder.ids), gpus=holder.gpus)

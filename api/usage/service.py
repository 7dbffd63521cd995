"""GPU usage: a tenant's own per pool (with what it holds now), and the admin's report over all."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.api.usage import schemas
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool, Job, Quota, Tenant
from sanacloud.platform.errors import InvalidInput
from sanacloud.platform.scheduler.admission import HOLDING
from sanacloud.platform.scheduler.usage import report

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
    billed = {line.pool: line for line in report(session, since=since, until=until, tenant_id=tenant_id)}
    holding = {pool_id: int(gpus) for pool_id, gpus in session.execute(select(Job.pool_id, func.sum(Job.gpus)).where(
        Job.tenant_id == tenant_id, Job.status.in_(HOLDING)).group_by(Job.pool_id))}
    pools = []
    for quota, pool in session.execute(select(Quota, GpuPool).join(GpuPool, GpuPool.id == Quota.pool_id)
                                       .where(Quota.tenant_id == tenant_id).order_by(GpuPool.name)):
        line = billed.pop(pool.name, None)
        pools.append(schemas.PoolUsage(
            pool=pool.name, gpu_seconds=line.gpu_seconds if line else 0.0, jobs=line.jobs if line else 0,
            gpus_in_use=holding.get(pool.id, 0), nominal_gpus=quota.nominal_gpus,
            borrowing_limit_gpus=quota.borrowing_limit_gpus))
    for line in billed.values():  # usage on a pool whose quota was removed since
        pools.append(schemas.PoolUsage(pool=line.pool, gpu_seconds=line.gpu_seconds, jobs=line.jobs, gpus_in_use=0,
                                       nominal_gpus=0, borrowing_limit_gpus=0))
    return schemas.TenantUsage(since=since, until=until, pools=pools)


def admin_report(session: Session, *, since: datetime, until: datetime, tenant_id: str | None) -> schemas.UsageReport:
    names = {tenant_id: name for tenant_id, name in session.execute(select(Tenant.id, Tenant.name))}
    lines = [schemas.UsageLineOut(tenant_id=line.tenant_id, tenant=names.get(line.tenant_id, ""), pool=line.pool,
                                  gpu_seconds=line.gpu_seconds, jobs=line.jobs)
             for line in report(session, since=since, until=until, tenant_id=tenant_id)]
    return schemas.UsageReport(since=since, until=until, lines=lines,
                               total_gpu_seconds=round(sum(line.gpu_seconds for line in lines), 3))

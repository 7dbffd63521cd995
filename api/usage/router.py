from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from sanacloud.api.deps import AdminDep, SessionDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED
from sanacloud.api.usage import schemas, service

router = APIRouter(tags=["usage"], responses=AUTHENTICATED)
Since = Annotated[datetime | None, Query(description="start of the interval (default: 30 days before until)")]
Until = Annotated[datetime | None, Query(description="end of the interval (default: now)")]


@router.get("/v1/usage")
def usage_get(session: SessionDep, actor: TenantDep, since: Since = None, until: Until = None) -> schemas.TenantUsage:
    """Your tenant's GPU-seconds per pool in the interval, and the GPUs it holds now against its quota."""
    start, end = service.interval(since, until)
    return service.tenant_usage(session, tenant_id=actor.tenant_id, since=start, until=end)


@router.get("/v1/admin/usage")
def admin_usage_report(session: SessionDep, _: AdminDep, since: Since = None, until: Until = None,
                       tenant_id: Annotated[str | None, Query(max_length=40)] = None) -> schemas.UsageReport:
    """GPU-seconds per tenant and pool in the interval."""
    start, end = service.interval(since, until)
    return service.admin_report(session, since=start, until=end, tenant_id=tenant_id)


@router.get("/v1/admin/usage/series")
def admin_usage_series(session: SessionDep, _: AdminDep, since: Since = None, until: Until = None,
                       buckets: Annotated[int, Query(ge=1, le=500, description="how many equal spans")] = 30,
                       tenant_id: Annotated[str | None, Query(max_length=40)] = None) -> schemas.UsageSeries:
    """GPU-seconds per tenant and pool over time: the interval cut into `buckets` equal spans."""
    start, end = service.interval(since, until)
    return service.admin_series(session, since=start, until=end, buckets=buckets, tenant_id=tenant_id)

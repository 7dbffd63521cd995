"""GPU time, billed per job attempt: one usage record per attempt, extended at every heartbeat.

A job is billed from the moment its worker starts it (not while it waits in the queue or for a
worker) until it stops; GPU-seconds = GPUs x wall seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import GpuPool, Job, UsageRecord


def start_billing(session: Session, job: Job, at: datetime) -> None:
    job.accounted_until = at
    session.add(UsageRecord(tenant_id=job.tenant_id, pool_id=job.pool_id, job_id=job.id, gpus=job.gpus,
                            started_at=at, ended_at=at, gpu_seconds=0.0))


def bill(session: Session, job: Job, until: datetime) -> None:
    """Extend the job's open usage record up to `until` (no-op when it is not being billed)."""
    if job.accounted_until is None or until <= job.accounted_until:
        return
    record = session.scalar(select(UsageRecord).where(UsageRecord.job_id == job.id)
                            .order_by(UsageRecord.id.desc()).limit(1))
    if record is None or record.ended_at != job.accounted_until:
        record = UsageRecord(tenant_id=job.tenant_id, pool_id=job.pool_id, job_id=job.id, gpus=job.gpus,
                             started_at=job.accounted_until, ended_at=job.accounted_until, gpu_seconds=0.0)
        session.add(record)
    record.gpu_seconds += (until - record.ended_at).total_seconds() * record.gpus
    record.ended_at = until
    job.accounted_until = until


def stop_billing(session: Session, job: Job, at: datetime) -> None:
    bill(session, job, at)
    job.accounted_until = None


def recent_usage(session: Session, pool_id: str, now: datetime, window_s: int) -> dict[str, float]:
    """GPU-seconds per tenant in the pool over the last `window_s` (records ending in the window)."""
    since = now - timedelta(seconds=window_s)
    rows = session.execute(select(UsageRecord.tenant_id, func.sum(UsageRecord.gpu_seconds))
                           .where(UsageRecord.pool_id == pool_id, UsageRecord.ended_at >= since)
                           .group_by(UsageRecord.tenant_id))
    return {tenant: float(total) for tenant, total in rows}


@dataclass(frozen=True)
class UsageLine:
    tenant_id: str
    pool: str
    gpu_seconds: float
    jobs: int


def report(session: Session, *, since: datetime, until: datetime, tenant_id: str | None = None) -> list[UsageLine]:
    """GPU-seconds per tenant and pool in [since, until), records clipped to the interval."""
    query = (select(UsageRecord, GpuPool.name).join(GpuPool, GpuPool.id == UsageRecord.pool_id)
             .where(UsageRecord.ended_at > since, UsageRecord.started_at < until))
    if tenant_id is not None:
        query = query.where(UsageRecord.tenant_id == tenant_id)
    totals: dict[tuple[str, str], tuple[float, set[str]]] = {}
    for record, pool in session.execute(query):
        span = (record.ended_at - record.started_at).total_seconds()
        inside = (min(record.ended_at, until) - max(record.started_at, since)).total_seconds()
        share = record.gpu_seconds * (inside / span) if span > 0 else 0.0
        seconds, jobs = totals.get((record.tenant_id, pool), (0.0, set()))
        jobs.add(record.job_id or record.endpoint_id or "")
        totals[(record.tenant_id, pool)] = (seconds + share, jobs)
    return [UsageLine(tenant_id=tenant, pool=pool, gpu_seconds=round(seconds, 3), jobs=len(jobs))
            for (tenant, pool), (seconds, jobs) in sorted(totals.items())]


def series(session: Session, *, since: datetime, until: datetime, buckets: int,
           tenant_id: str | None = None) -> dict[tuple[str, str], list[float]]:
    """GPU-seconds per (tenant, pool) in each of `buckets` equal spans of [since, until), each record's
    GPU time spread evenly over the time it covers."""
    width = (until - since) / buckets
    query = (select(UsageRecord, GpuPool.name).join(GpuPool, GpuPool.id == UsageRecord.pool_id)
             .where(UsageRecord.ended_at > since, UsageRecord.started_at < until))
    if tenant_id is not None:
        query = query.where(UsageRecord.tenant_id == tenant_id)
    totals: dict[tuple[str, str], list[float]] = {}
    for record, pool in session.execute(query):
        span = (record.ended_at - record.started_at).total_seconds()
        if span <= 0:
            continue
        line = totals.setdefault((record.tenant_id, pool), [0.0] * buckets)
        first = max(0, int((record.started_at - since) / width))
        for index in range(first, buckets):
            start = since + width * index
            if start >= record.ended_at:
                break
            inside = (min(record.ended_at, start + width) - max(record.started_at, start)).total_seconds()
            line[index] += record.gpu_seconds * max(inside, 0.0) / span
    return {key: [round(seconds, 3) for seconds in line] for key, line in sorted(totals.items())}

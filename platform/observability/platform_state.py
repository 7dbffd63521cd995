"""Gauges read from the database at scrape time: jobs by state and pool, and each pool's GPUs,
in use (as the scheduler counts them: `scheduler.holders`) and its capacity.

No label names a tenant, a job or anything a tenant wrote: pools and states only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import GpuPool, Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.observability.metrics import SCRAPE_ERRORS
from sanacloud.platform.scheduler.holders import gpu_holders

log = logging.getLogger(__name__)


def bound_statements(session: Session, timeout_s: float) -> None:
    """PostgreSQL: this transaction's statements give up after `timeout_s` (a scrape never hangs on a lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}"))


class PlatformState(Collector):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("sanacloud_jobs", "Jobs in each state, by GPU pool", labels=["pool", "state"])
        capacity = GaugeMetricFamily("sanacloud_pool_capacity_gpus", "A GPU pool's capacity", labels=["pool"])
        used = GaugeMetricFamily(
            "sanacloud_pool_used_gpus", "A GPU pool's GPUs held, by admitted and running jobs (holder=job) and "
            "by models kept warm for endpoints (holder=endpoint), as the scheduler counts them",
            labels=["pool", "holder"])
        try:
            with session_scope() as session:
                bound_statements(session, self.timeout_s)
                pools = session.execute(select(GpuPool.id, GpuPool.name, GpuPool.capacity_gpus)
                                        .order_by(GpuPool.name)).all()
                counts = {(pool_id, status): count for pool_id, status, count in session.execute(
                    select(Job.pool_id, Job.status, func.count()).group_by(Job.pool_id, Job.status))}
                holders = {pool.id: gpu_holders(session, pool.id) for pool in pools}
        except SQLAlchemyError:
            SCRAPE_ERRORS.labels(collector="database").inc()
            log.warning("metrics: could not read the platform's state from the database", exc_info=True)
            return
        for pool_id, name, capacity_gpus in pools:
            for status in JobStatus:  # every state, 0 included: an alert on a state needs its series
                jobs.add_metric([name, status.value], counts.get((pool_id, status.value), 0))
            capacity.add_metric([name], capacity_gpus)
            for kind in ("job", "endpoint"):
                used.add_metric([name, kind], sum(h.gpus for h in holders[pool_id] if h.kind == kind))
        yield from (jobs, capacity, used)

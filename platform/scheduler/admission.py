"""Admission: apply the policy to one pool under a lock on the pool's row.

Every admission in a pool happens inside `schedule_pool`, which first locks the pool's row
(`lock_pool`: SELECT ... FOR NO KEY UPDATE; SQLite: the database write lock). Admissions in one
pool are therefore serial across any number of API replicas and workers, and each sees the ones
before it, so capacity and quotas cannot be exceeded by a race. The jobs a plan admits or
preempts are then locked, in one statement.

Lock order, everywhere: the pool, then its jobs. Code that changes a job and then schedules
(finish, cancel) locks the pool first. NO KEY UPDATE, not UPDATE: inserting a job takes a KEY
SHARE lock on its pool (the foreign key check), which UPDATE would conflict with: two submits
would each hold one and wait for the other's.
Tasks are sent to the broker only once the transaction has committed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool, Job, JobEvent, Quota, Tenant, TenantStatus
from sanacloud.platform.jobs.dispatch import dispatch_after_commit
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.observability.metrics import ADMISSION_PASS_DURATION
from sanacloud.platform.scheduler import policy
from sanacloud.platform.scheduler.collector import collection_deferred
from sanacloud.platform.scheduler.usage import recent_usage
from sanacloud.platform.scheduler.waiting import Shown, record_waits
from sanacloud.platform.serving.generations import WarmModel, warm_gpus
from sanacloud.platform.settings import get_settings

HOLDING = (JobStatus.ADMITTED, JobStatus.RUNNING)


def lock_pool(session: Session, pool_id: str) -> GpuPool | None:
    return session.scalar(select(GpuPool).where(GpuPool.id == pool_id).with_for_update(key_share=True))


def schedule_pool(session: Session, pool_id: str) -> policy.Plan:
    """Admit what fits in the pool, ask borrowers to make room, and tell every other queued job why
    it waits; returns what was decided."""
    started = time.perf_counter()
    pool = lock_pool(session, pool_id)
    if pool is None:
        return policy.Plan(admit=(), preempt=())
    with collection_deferred():  # not while waiting on row locks below: the collector is process-wide
        serving = warm_gpus(session, pool.id)
        queue = read_queue(session, pool.id)
        state = load_state(session, pool, serving, queue)
        decided = policy.plan(state)
    jobs = _lock_jobs(session, [admission.job_id for admission in decided.admit] + list(decided.preempt))
    for admission in decided.admit:
        _admit(session, pool, admission, jobs[admission.job_id])
    for job_id in decided.preempt:
        _preempt(session, jobs[job_id])
    with collection_deferred():
        record_waits(session, pool, state, decided, serving, queue.shown)
    ADMISSION_PASS_DURATION.labels(pool=pool.name).observe(time.perf_counter() - started)
    return decided


def schedule_all(session: Session) -> list[policy.Plan]:
    """Every pool, in id order (one lock order for everyone: no deadlocks between schedulers)."""
    return [schedule_pool(session, pool_id) for pool_id in session.scalars(select(GpuPool.id).order_by(GpuPool.id))]


@dataclass(frozen=True)
class Queue:
    """A pool's queued jobs of active tenants, oldest first, and what each one shows its user now."""

    jobs: list[policy.Waiting]
    shown: dict[str, Shown]  # by job id


def read_queue(session: Session, pool_id: str) -> Queue:
    """One read of the queue: the columns the policy plans with and the reasons `record_waits` compares with.

    Disabled tenants' jobs are left out here rather than by a join with the tenants table: the
    planner's estimate for the queue is often one row (statistics lag a burst of submissions), and
    it then joins by a nested loop that costs more than the whole tick."""
    disabled = set(session.scalars(select(Tenant.id).where(Tenant.status != TenantStatus.ACTIVE)))
    rows = session.connection().execute(  # Core's rows: the ORM's loading of them costs a third more
        select(Job.id, Job.tenant_id, Job.gpus, Job.priority, Job.wait_reason, Job.wait_kind)
        .where(Job.pool_id == pool_id, Job.status == JobStatus.QUEUED).order_by(Job.created_at, Job.id))
    jobs: list[policy.Waiting] = []
    shown: dict[str, Shown] = {}
    for job_id, tenant_id, gpus, priority, reason, kind in rows:
        if tenant_id not in disabled:
            jobs.append(policy.Waiting(job_id, tenant_id, gpus, priority, len(jobs)))
            shown[job_id] = (reason, kind)
    return Queue(jobs, shown)


def load_state(session: Session, pool: GpuPool, serving: Sequence[WarmModel], queue: Queue) -> policy.PoolState:
    """The pool as the policy sees it; `serving`: its warm models (`warm_gpus`), `queue`: its queue
    (`read_queue`), both read in this transaction."""
    now = utcnow()
    held = session.execute(
        select(Job.id, Job.tenant_id, Job.gpus, Job.borrowed, Job.preempt_requested_at, Job.pause_requested_at,
               Job.priority, Job.admitted_at).where(Job.pool_id == pool.id, Job.status.in_(HOLDING))
        .order_by(Job.admitted_at, Job.id)).all()
    quotas = {q.tenant_id: policy.Quota(nominal=q.nominal_gpus, borrowing_limit=q.borrowing_limit_gpus)
              for q in session.scalars(select(Quota).where(Quota.pool_id == pool.id))}
    weights = {tenant: weight for tenant, weight in session.execute(
        select(Tenant.id, Tenant.fair_share_weight).where(Tenant.id.in_(quotas)))}
    return policy.PoolState(
        capacity=pool.capacity_gpus, quotas=quotas, weights=weights,
        recent_usage=recent_usage(session, pool.id, now, get_settings().fair_share_window_s),
        held=[policy.Held(job_id=row.id, tenant_id=row.tenant_id, gpus=row.gpus, borrowed=row.borrowed,
                          draining=(row.preempt_requested_at or row.pause_requested_at) is not None,
                          priority=row.priority, admitted_seq=seq)
              for seq, row in enumerate(held)]
        # A model held for warm endpoints takes a GPU of the pool per replica; never a borrower, so never preempted.
        + [policy.Held(job_id=warm.holder_id, tenant_id=warm.tenant_id, gpus=warm.gpus, borrowed=False)
           for warm in serving],
        waiting=queue.jobs)


def _lock_jobs(session: Session, job_ids: list[str]) -> dict[str, Job]:
    """The jobs a plan changes, locked FOR UPDATE in one statement and refreshed (they may have changed
    since this session last read them)."""
    if not job_ids:
        return {}
    jobs = {job.id: job for job in session.scalars(
        select(Job).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update()
        .execution_options(populate_existing=True))}
    assert len(jobs) == len(set(job_ids)), job_ids  # jobs are never deleted while their pool is locked
    return jobs


def _admit(session: Session, pool: GpuPool, admission: policy.Admission, job: Job) -> None:
    if job.status != JobStatus.QUEUED:  # cancelled since the state was read
        return
    job.attempt += 1
    job.borrowed = admission.borrowed
    job.admitted_at = utcnow()
    job.preempt_requested_at = None
    transition(session, job, JobStatus.ADMITTED, reason="admitted",
               details={"attempt": job.attempt, "borrowed": admission.borrowed, "pool": pool.name})
    job.dispatched_at = None
    dispatch_after_commit(session, job, pool.name)


def _preempt(session: Session, job: Job) -> None:
    """A borrowed job makes room: at once if no worker has started it, else its worker checkpoints first."""
    if job.status == JobStatus.ADMITTED:
        transition(session, job, JobStatus.QUEUED, reason="preempted before it started")
    elif job.status == JobStatus.RUNNING and job.preempt_requested_at is None:
        job.preempt_requested_at = utcnow()
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="preempt_requested",
                             payload={"reason": "a tenant within its nominal quota needs the GPUs"}))

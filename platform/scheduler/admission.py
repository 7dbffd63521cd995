"""Admission: apply the policy to one pool under a lock on the pool's row.

Every admission in a pool happens inside `schedule_pool`, which first locks the pool's row
(`lock_pool`: SELECT ... FOR NO KEY UPDATE; SQLite: the database write lock). Admissions in one
pool are therefore serial across any number of API replicas and workers, and each sees the ones
before it, so capacity and quotas cannot be exceeded by a race. Jobs are then locked one by one.

Lock order, everywhere: the pool, then its jobs. Code that changes a job and then schedules
(finish, cancel) locks the pool first. NO KEY UPDATE, not UPDATE: inserting a job takes a KEY
SHARE lock on its pool (the foreign key check), which UPDATE would conflict with: two submits
would each hold one and wait for the other's.
Tasks are sent to the broker only once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool, Job, JobEvent, Quota, Tenant, TenantStatus
from sanacloud.platform.db.scoped import locked
from sanacloud.platform.jobs.dispatch import dispatch_after_commit
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.scheduler import policy
from sanacloud.platform.scheduler.usage import recent_usage
from sanacloud.platform.scheduler.waiting import record_waits
from sanacloud.platform.serving.generations import WarmModel, warm_gpus
from sanacloud.platform.settings import get_settings

HOLDING = (JobStatus.ADMITTED, JobStatus.RUNNING)


def lock_pool(session: Session, pool_id: str) -> GpuPool | None:
    return session.scalar(select(GpuPool).where(GpuPool.id == pool_id).with_for_update(key_share=True))


def schedule_pool(session: Session, pool_id: str) -> policy.Plan:
    """Admit what fits in the pool, ask borrowers to make room, and tell every other queued job why
    it waits; returns what was decided."""
    pool = lock_pool(session, pool_id)
    if pool is None:
        return policy.Plan(admit=(), preempt=())
    serving = warm_gpus(session, pool.id)
    state = load_state(session, pool, serving)
    decided = policy.plan(state)
    for admission in decided.admit:
        _admit(session, pool, admission)
    for job_id in decided.preempt:
        _preempt(session, job_id)
    record_waits(session, pool, state, decided, serving)
    return decided


def schedule_all(session: Session) -> list[policy.Plan]:
    """Every pool, in id order (one lock order for everyone: no deadlocks between schedulers)."""
    return [schedule_pool(session, pool_id) for pool_id in session.scalars(select(GpuPool.id).order_by(GpuPool.id))]


def load_state(session: Session, pool: GpuPool, serving: Sequence[WarmModel]) -> policy.PoolState:
    """The pool as the policy sees it; `serving`: its warm models (`warm_gpus`), read in this transaction."""
    now = utcnow()
    held = session.execute(
        select(Job.id, Job.tenant_id, Job.gpus, Job.borrowed, Job.preempt_requested_at, Job.priority,
               Job.admitted_at).where(Job.pool_id == pool.id, Job.status.in_(HOLDING))
        .order_by(Job.admitted_at, Job.id)).all()
    waiting = session.execute(
        select(Job.id, Job.tenant_id, Job.gpus, Job.priority).join(Tenant, Tenant.id == Job.tenant_id)
        .where(Job.pool_id == pool.id, Job.status == JobStatus.QUEUED, Tenant.status == TenantStatus.ACTIVE)
        .order_by(Job.created_at, Job.id)).all()
    quotas = {q.tenant_id: policy.Quota(nominal=q.nominal_gpus, borrowing_limit=q.borrowing_limit_gpus)
              for q in session.scalars(select(Quota).where(Quota.pool_id == pool.id))}
    weights = {tenant: weight for tenant, weight in session.execute(
        select(Tenant.id, Tenant.fair_share_weight).where(Tenant.id.in_(quotas)))}
    return policy.PoolState(
        capacity=pool.capacity_gpus, quotas=quotas, weights=weights,
        recent_usage=recent_usage(session, pool.id, now, get_settings().fair_share_window_s),
        held=[policy.Held(job_id=row.id, tenant_id=row.tenant_id, gpus=row.gpus, borrowed=row.borrowed,
                          draining=row.preempt_requested_at is not None, priority=row.priority, admitted_seq=seq)
              for seq, row in enumerate(held)]
        # A model held for warm endpoints takes a GPU of the pool per replica; never a borrower, so never preempted.
        + [policy.Held(job_id=warm.holder_id, tenant_id=warm.tenant_id, gpus=warm.gpus, borrowed=False)
           for warm in serving],
        waiting=[policy.Waiting(job_id=row.id, tenant_id=row.tenant_id, gpus=row.gpus, priority=row.priority,
                                created_seq=seq) for seq, row in enumerate(waiting)])


def _locked(session: Session, job_id: str) -> Job:
    job = locked(session, Job, job_id)
    assert job is not None, job_id  # jobs are never deleted while their pool is locked
    return job


def _admit(session: Session, pool: GpuPool, admission: policy.Admission) -> None:
    job = _locked(session, admission.job_id)
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


def _preempt(session: Session, job_id: str) -> None:
    """A borrowed job makes room: at once if no worker has started it, else its worker checkpoints first."""
    job = _locked(session, job_id)
    if job.status == JobStatus.ADMITTED:
        transition(session, job, JobStatus.QUEUED, reason="preempted before it started")
    elif job.status == JobStatus.RUNNING and job.preempt_requested_at is None:
        job.preempt_requested_at = utcnow()
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="preempt_requested",
                             payload={"reason": "a tenant within its nominal quota needs the GPUs"}))

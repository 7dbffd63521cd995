"""Why queued jobs wait, in words: each plan's reasons are stored on the jobs (`Job.wait_reason`,
kept current as holders come and go) and recorded as a `waiting` event when the kind of reason
changes (it starts waiting for quota, then for capacity...): a long queue whose holders change at
every admission would otherwise add an event per queued job each time.

A reason names the tenant's own holders by id (jobs; endpoints with how long they stay warm);
another tenant's holders are only counted, as another tenant's objects are never confirmed to exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import GpuPool, Job, JobEvent
from sanacloud.platform.scheduler import policy
from sanacloud.platform.serving.generations import WarmEndpoint, WarmModel

MAX_NAMED = 5  # holders of one kind named in a reason; the event lists them all


@dataclass(frozen=True)
class Holder:
    """Whoever holds (or was just promised) GPUs of the pool: a job, or a model held for warm endpoints."""

    tenant_id: str
    kind: Literal["job", "endpoint"]
    ids: tuple[str, ...]  # the job; or the endpoints sharing the loaded model
    names: tuple[str, ...]  # each id as a reason names it
    gpus: int


@dataclass(frozen=True)
class Explanation:
    reason: str
    payload: dict[str, Any]  # the `waiting` event's


Shown = tuple[str | None, str | None]  # a queued job's wait_reason and wait_kind as stored (None before its first plan)


def record_waits(session: Session, pool: GpuPool, state: policy.PoolState, decided: policy.Plan,
                 serving: Sequence[WarmModel], shown: Mapping[str, Shown]) -> None:
    """Store the reason of each waiting job whose reason changed; an event for every job whose kind of
    reason changed. `serving`: the warm models the state was loaded with; `shown`: the waiting jobs'
    reasons as stored when it was loaded (`admission.read_queue`). A plan that changes no reason writes
    nothing."""
    explain = _Explainer(pool, state, serving)
    reasons, events = [], []
    for wait in decided.waits:
        explanation = explain(wait)
        reason, kind = shown[wait.job_id]
        if explanation.reason != reason:
            reasons.append({"id": wait.job_id, "wait_reason": explanation.reason, "wait_kind": str(wait.kind)})
        if wait.kind != kind:
            events.append({"job_id": wait.job_id, "tenant_id": explain.tenant_of(wait), "type": "waiting",
                           "payload": explanation.payload})
    # In bulk: a long queue's reasons may all change at once. The jobs are still queued, as they were
    # when `shown` was read: every change of a queued job's status locks the pool first.
    if reasons:
        session.execute(update(Job), reasons)
    if events:
        session.execute(insert(JobEvent), events)


class _Explainer:
    """Puts a plan's waits into words for one pool, naming what holds the GPUs."""

    def __init__(self, pool: GpuPool, state: policy.PoolState, serving: Sequence[WarmModel]) -> None:
        self.pool, self.state = pool, state
        self.waiting = {job.job_id: job for job in state.waiting}
        self.held = {job.job_id: job for job in state.held}
        self.warm = {warm.holder_id: warm for warm in serving}
        self._explained: dict[tuple[Any, ...], Explanation] = {}  # many jobs of a tenant wait for the same
        self._holders: dict[tuple[str, ...], list[Holder]] = {}  # and many tenants' jobs for the whole pool

    def __call__(self, wait: policy.Wait) -> Explanation:
        job = self.waiting[wait.job_id]
        key = (wait.kind, wait.holders, wait.free, wait.tenant_gpus, job.tenant_id, job.gpus)
        if key not in self._explained:
            named, holders, others = self._name(wait.holders, job.tenant_id)
            reason = self._reason(wait, job, named)
            payload = {"reason": reason, "kind": str(wait.kind), "holders": holders, "other_tenants_gpus": others}
            self._explained[key] = Explanation(reason, payload)
        return self._explained[key]

    def tenant_of(self, wait: policy.Wait) -> str:
        return self.waiting[wait.job_id].tenant_id

    def _reason(self, wait: policy.Wait, job: policy.Waiting, named: str) -> str:
        pool, capacity, kind = self.pool.name, self.state.capacity, wait.kind
        if kind is policy.WaitKind.LARGER_THAN_POOL:
            return (f"larger than the pool: needs {_gpus(job.gpus)} but pool {pool!r} has {capacity}; resubmit with "
                    "fewer GPUs or ask a platform admin to grow the pool")
        if kind is policy.WaitKind.QUOTA:
            quota = self.state.quotas.get(job.tenant_id, policy.Quota(0, 0))
            limit = quota.limit
            terms = f"nominal {quota.nominal}, borrowing {quota.borrowing_limit}"
            if job.gpus > limit:
                return (f"needs {_gpus(job.gpus)}, more than your tenant's quota in pool {pool!r} allows ({limit}: "
                        f"{terms}); ask a platform admin for more")
            return (f"your tenant holds {wait.tenant_gpus} of its {_gpus(limit)} in pool {pool!r} ({terms}) and this "
                    f"job needs {job.gpus}: {named}")
        if kind is policy.WaitKind.CAPACITY:
            free = max(wait.free, 0)
            held = f"all {capacity} are held" if free == 0 else f"{free} of {capacity} free, the rest held"
            return f"waiting for {_gpus(job.gpus)} in pool {pool!r}: {held}, by {named}"
        if kind is policy.WaitKind.RESERVED:
            return f"reserved: waiting for preempted {named} to checkpoint and stop"
        return f"waiting to borrow in pool {pool!r}: its idle GPUs are reserved for {named}, within nominal quota"

    def _name(self, holder_ids: tuple[str, ...], tenant_id: str) -> tuple[str, list[dict[str, Any]], int]:
        """The holders in words, as event entries (the tenant's own), and other tenants' GPUs among them."""
        if holder_ids not in self._holders:
            self._holders[holder_ids] = [self._holder(holder_id) for holder_id in holder_ids]
        holders = self._holders[holder_ids]
        own = [holder for holder in holders if holder.tenant_id == tenant_id]
        others = [holder for holder in holders if holder.tenant_id != tenant_id]
        entries = [{"kind": holder.kind, "ids": list(holder.ids), "gpus": holder.gpus} for holder in own]
        return _phrase(own, others), entries, sum(holder.gpus for holder in others)

    def _holder(self, holder_id: str) -> Holder:
        warm = self.warm.get(holder_id)
        if warm is not None:
            return Holder(warm.tenant_id, "endpoint", tuple(endpoint.id for endpoint in warm.endpoints),
                          tuple(_endpoint_name(endpoint) for endpoint in warm.endpoints), 1)
        held = self.held.get(holder_id)
        if held is not None:
            return Holder(held.tenant_id, "job", (held.job_id,), (held.job_id,), held.gpus)
        waiting = self.waiting.get(holder_id)
        assert waiting is not None, holder_id  # the policy names only held jobs and jobs it promised GPUs to
        return Holder(waiting.tenant_id, "job", (waiting.job_id,), (waiting.job_id,), waiting.gpus)


def _phrase(own: list[Holder], others: list[Holder]) -> str:
    parts = [_listed(kind, [name for holder in own if holder.kind == kind for name in holder.names])
             for kind in ("job", "endpoint")]
    for kind in ("job", "endpoint"):
        gpus = sum(holder.gpus for holder in others if holder.kind == kind)
        if gpus:
            parts.append(f"{kind}s of other tenants ({_gpus(gpus)})")
    return ", ".join(part for part in parts if part) or "nobody"


def _listed(kind: str, names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMED]) + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")
    return f"{kind}{'s' if len(names) > 1 else ''} {shown}"


def _endpoint_name(endpoint: WarmEndpoint) -> str:
    if endpoint.min_replicas > 0:
        return f"{endpoint.id} (kept warm: min_replicas {endpoint.min_replicas})"
    return f"{endpoint.id} (warm until idle {endpoint.idle_timeout_s} s)"


def _gpus(count: int) -> str:
    return f"{count} GPU{'s' if count != 1 else ''}"

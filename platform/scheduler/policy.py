"""The GPU scheduler's decision core for one pool: which waiting jobs start, which borrowers stop.

Each tenant is guaranteed its *nominal* quota of the pool and may borrow up to *borrowing_limit*
more GPUs while they are idle; borrowed jobs are preemptible. Waiting jobs are considered in
fair-share order: next is the tenant with the lowest share, (recent GPU-seconds + HOLD_WEIGHT_S
per GPU held) / weight, and each admission raises its share. Planning makes two passes:

1. Jobs within their tenant's nominal quota. One that fits the free GPUs is admitted. One that
   would fit once draining jobs stop and enough of *other* tenants' borrowed jobs are preempted
   (lowest priority, then youngest, first) triggers those preemptions and reserves the GPUs it
   waits for, so that nothing else in this plan can take them; a later plan admits it. One that
   would not fit even then waits without a reservation: smaller jobs behind it may still start.
2. Borrowing jobs, only when no job holds a reservation: each that fits the free GPUs and its
   tenant's nominal + borrowing limit is admitted as borrowed.

A job larger than the pool never fits, even with every borrower preempted, so it just waits.
Every waiting job the plan does not admit gets a Wait: why, and the ids of whoever holds (or was
just promised) the GPUs it needs, so that a user can see what it waits for.
Pure and deterministic: the caller loads a PoolState under the pool's lock and applies the Plan.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

HOLD_WEIGHT_S: float = 3600.0  # one GPU held now counts as this many GPU-seconds of usage for fair share


@dataclass(frozen=True)
class Quota:
    nominal: int  # GPUs guaranteed to the tenant in this pool
    borrowing_limit: int  # extra GPUs it may borrow from idle capacity (preemptible)

    @property
    def limit(self) -> int:
        """The most GPUs the tenant may hold in the pool, borrowed ones included."""
        return self.nominal + self.borrowing_limit


_NO_QUOTA = Quota(nominal=0, borrowing_limit=0)


@dataclass(frozen=True)
class Held:
    """A job that holds GPUs now: admitted, running, or draining after a preemption request."""

    job_id: str
    tenant_id: str
    gpus: int
    borrowed: bool  # admitted beyond the tenant's nominal quota, hence preemptible
    draining: bool = False  # preemption (or a pause) requested; holds its GPUs until its worker stops
    priority: int = 0
    admitted_seq: int = 0  # larger = admitted later


class Waiting(NamedTuple):
    """A queued job. This and Wait are named tuples, not frozen dataclasses: a plan makes one of each per
    queued job, and a frozen dataclass takes four times as long to build."""

    job_id: str
    tenant_id: str
    gpus: int
    priority: int  # higher first, within the tenant's fair-share turn
    created_seq: int  # smaller = older


@dataclass(frozen=True)
class PoolState:
    capacity: int
    quotas: Mapping[str, Quota]  # absent tenant: Quota(0, 0)
    weights: Mapping[str, float]  # fair-share weight > 0; absent: 1.0
    recent_usage: Mapping[str, float]  # decayed GPU-seconds; absent: 0
    held: Sequence[Held]
    waiting: Sequence[Waiting]


@dataclass(frozen=True)
class Admission:
    job_id: str
    borrowed: bool


class WaitKind(StrEnum):
    LARGER_THAN_POOL = "larger_than_pool"  # needs more GPUs than the pool has
    QUOTA = "quota"  # its tenant's GPUs and the job's would exceed nominal + borrowing limit
    CAPACITY = "capacity"  # the GPUs it needs are held, or promised to others in this plan
    RESERVED = "reserved"  # GPUs are reserved for it: it waits for preempted jobs to stop
    BEHIND_RESERVATION = "behind_reservation"  # it would borrow, but idle GPUs are reserved for a job within nominal


class Wait(NamedTuple):
    """Why a waiting job was not admitted. `holders` are ids of held jobs, of jobs admitted in this
    plan, or of waiting jobs it reserved GPUs for: for QUOTA its tenant's, for CAPACITY the pool's,
    for RESERVED the stopping jobs it waits for, for BEHIND_RESERVATION the jobs with reservations."""

    job_id: str
    kind: WaitKind
    holders: tuple[str, ...]  # sorted
    free: int  # the pool's idle, unpromised GPUs when it was considered (negative: over capacity)
    tenant_gpus: int  # GPUs its tenant held or was promised when it was considered


@dataclass(frozen=True)
class Plan:
    admit: tuple[Admission, ...]
    preempt: tuple[str, ...]  # held, borrowed, not yet draining jobs to stop
    waits: tuple[Wait, ...] = ()  # one for each waiting job not admitted


def plan(state: PoolState) -> Plan:
    """What to admit and what to preempt now (see the module docstring for the rules)."""
    return _Planner(state).run()


def fair_order(state: PoolState) -> list[Waiting]:
    """The order in which waiting jobs are considered, if every one of them were admitted."""
    order: list[Waiting] = []

    def admit_all(job: Waiting) -> bool:
        order.append(job)
        return True

    _walk_fair(state, _initial_shares(state), state.waiting, admit_all)
    return order


def _walk_fair(state: PoolState, shares: dict[str, float], jobs: Iterable[Waiting],
               decide: Callable[[Waiting], bool]) -> None:
    """Offer `jobs` to `decide`, lowest-share tenant first; an admission (True) raises that tenant's share."""
    queues: dict[str, list[Waiting]] = defaultdict(list)
    for job in sorted(jobs, key=_job_rank, reverse=True):  # each queue's best job last, for pop()
        queues[job.tenant_id].append(job)
    turns = [(shares[tenant], tenant) for tenant in queues]
    heapq.heapify(turns)
    while turns:
        _, tenant = heapq.heappop(turns)
        queue = queues[tenant]
        # The tenant keeps its turn until one of its jobs is admitted: its share, the lowest, is unchanged
        # until then (a heap push and pop per job would only hand the turn straight back).
        while queue:
            job = queue.pop()
            if decide(job):
                shares[tenant] += HOLD_WEIGHT_S * job.gpus / state.weights.get(tenant, 1.0)
                break
        if queue:
            heapq.heappush(turns, (shares[tenant], tenant))


def _job_rank(job: Waiting) -> tuple[int, int, str]:
    return -job.priority, job.created_seq, job.job_id


def _initial_shares(state: PoolState) -> dict[str, float]:
    held_gpus = _gpus_by_tenant(state.held)
    return {tenant: (state.recent_usage.get(tenant, 0.0) + HOLD_WEIGHT_S * held_gpus[tenant])
            / state.weights.get(tenant, 1.0) for tenant in {job.tenant_id for job in state.waiting}}


def _gpus_by_tenant(held: Iterable[Held]) -> defaultdict[str, int]:
    gpus: defaultdict[str, int] = defaultdict(int)
    for job in held:
        gpus[job.tenant_id] += job.gpus
    return gpus


@dataclass
class _Ledger:
    """GPUs the plan may still promise."""

    free: int  # idle now and unpromised; negative while the pool holds more than its (lowered) capacity
    incoming: int  # held by stopping jobs, unpromised: free once their workers stop

    def add_incoming(self, gpus: int) -> None:
        # A pool over capacity must shed its excess before stopping jobs leave anything free.
        absorbed = min(gpus, max(0, -self.free))
        self.free += absorbed
        self.incoming += gpus - absorbed

    @property
    def obtainable(self) -> int:
        return self.free + self.incoming

    def take_now(self, gpus: int) -> None:
        self.free -= gpus

    def reserve(self, gpus: int) -> None:
        # Promise GPUs on their way out first: idle GPUs the reservation does not need may still
        # start a within-nominal job now.
        from_incoming = min(gpus, self.incoming)
        self.incoming -= from_incoming
        self.free -= gpus - from_incoming


class _Ids:
    """Job ids, handed out as one sorted tuple that is rebuilt only after a change."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids = list(ids)
        self._sorted: tuple[str, ...] | None = None

    def add(self, job_id: str) -> None:
        self._ids.append(job_id)
        self._sorted = None

    def __len__(self) -> int:
        return len(self._ids)

    def sorted(self) -> tuple[str, ...]:
        if self._sorted is None:
            self._sorted = tuple(sorted(self._ids))
        return self._sorted


class _Planner:
    """One plan's bookkeeping: what is promised to whom, and which borrowers may still be preempted."""

    def __init__(self, state: PoolState) -> None:
        self.state = state
        self.held_gpus = _gpus_by_tenant(state.held)
        self.promised_gpus: defaultdict[str, int] = defaultdict(int)  # admitted or reserved in this plan
        self.ledger = _Ledger(free=state.capacity - sum(job.gpus for job in state.held), incoming=0)
        self.ledger.add_incoming(sum(job.gpus for job in state.held if job.draining))
        self.preemptible = sorted((job for job in state.held if job.borrowed and not job.draining),
                                  key=lambda job: (job.priority, -job.admitted_seq, job.job_id))
        self.shares = _initial_shares(state)
        self.admitted: list[Admission] = []
        self.preempted: list[str] = []
        self.borrowers: list[Waiting] = []
        # Who holds or was promised GPUs, to name in the waits: the pool's, each tenant's, and the stopping jobs.
        self.pool_holders = _Ids(job.job_id for job in state.held)
        self.tenant_holders: defaultdict[str, _Ids] = defaultdict(_Ids)
        for held in state.held:
            self.tenant_holders[held.tenant_id].add(held.job_id)
        self.stopping = _Ids(job.job_id for job in state.held if job.draining)
        self.reserved_for = _Ids()
        self.waits: dict[str, Wait] = {}

    def run(self) -> Plan:
        _walk_fair(self.state, self.shares, self.state.waiting, self._consider_within_nominal)
        if self.reserved_for:
            for job in self.borrowers:
                self._wait_behind_reservation(job)
        else:
            _walk_fair(self.state, self.shares, self.borrowers, self._consider_borrowing)
        return Plan(admit=tuple(self.admitted), preempt=tuple(self.preempted), waits=tuple(self.waits.values()))

    def _consider_within_nominal(self, job: Waiting) -> bool:
        """Pass 1: admit, or make room for, a job within nominal; set any other job aside for pass 2."""
        if self._tenant_gpus_with(job) > self._quota(job).nominal:
            self.borrowers.append(job)
            return False
        if job.gpus <= self.ledger.free:
            self._admit(job, borrowed=False)
            return True
        self._make_room(job)
        return False

    def _consider_borrowing(self, job: Waiting) -> bool:
        """Pass 2: admit a job beyond nominal if it fits the idle GPUs and its tenant's borrowing limit."""
        if self._over_limit(job):
            self._wait(job, WaitKind.QUOTA, self.tenant_holders[job.tenant_id].sorted())
        elif job.gpus > self.ledger.free:
            self._wait(job, WaitKind.CAPACITY, self.pool_holders.sorted())
        else:
            self._admit(job, borrowed=True)
            return True
        return False

    def _wait_behind_reservation(self, job: Waiting) -> None:
        if self._over_limit(job):
            self._wait(job, WaitKind.QUOTA, self.tenant_holders[job.tenant_id].sorted())
        else:
            self._wait(job, WaitKind.BEHIND_RESERVATION, self.reserved_for.sorted())

    def _make_room(self, job: Waiting) -> None:
        """Preempt other tenants' borrowers for `job` and reserve its GPUs, if that can make it fit."""
        victims = self._victims_for(job)
        if victims is None:  # waits without a reservation: smaller jobs behind it may still start
            self._wait(job, WaitKind.CAPACITY, self.pool_holders.sorted())
            return
        for victim in victims:
            self.preempted.append(victim.job_id)
            self.stopping.add(victim.job_id)
            self.ledger.add_incoming(victim.gpus)
        chosen = set(victims)
        self.preemptible = [held for held in self.preemptible if held not in chosen]
        self._wait(job, WaitKind.RESERVED, self.stopping.sorted())
        self.ledger.reserve(job.gpus)
        self._promise(job)
        self.reserved_for.add(job.job_id)

    def _victims_for(self, job: Waiting) -> list[Held] | None:
        shortfall = job.gpus - self.ledger.obtainable
        victims: list[Held] = []
        for held in self.preemptible:
            if shortfall <= 0:
                break
            if held.tenant_id != job.tenant_id:  # a tenant does not stop its own work to start more of it
                victims.append(held)
                shortfall -= held.gpus
        return victims if shortfall <= 0 else None

    def _admit(self, job: Waiting, *, borrowed: bool) -> None:
        self.admitted.append(Admission(job_id=job.job_id, borrowed=borrowed))
        self.ledger.take_now(job.gpus)
        self._promise(job)

    def _promise(self, job: Waiting) -> None:
        self.promised_gpus[job.tenant_id] += job.gpus
        self.pool_holders.add(job.job_id)
        self.tenant_holders[job.tenant_id].add(job.job_id)

    def _wait(self, job: Waiting, kind: WaitKind, holders: tuple[str, ...]) -> None:
        if job.gpus > self.state.capacity:  # whatever else is in the way, this is what the user must change
            kind, holders = WaitKind.LARGER_THAN_POOL, ()
        tenant_gpus = self.held_gpus[job.tenant_id] + self.promised_gpus[job.tenant_id]
        self.waits[job.job_id] = Wait(job.job_id, kind, holders, free=self.ledger.free, tenant_gpus=tenant_gpus)

    def _over_limit(self, job: Waiting) -> bool:
        return self._tenant_gpus_with(job) > self._quota(job).limit

    def _tenant_gpus_with(self, job: Waiting) -> int:
        """GPUs the tenant would hold with `job`: held now, promised in this plan, and the job's own."""
        return self.held_gpus[job.tenant_id] + self.promised_gpus[job.tenant_id] + job.gpus

    def _quota(self, job: Waiting) -> Quota:
        return self.state.quotas.get(job.tenant_id, _NO_QUOTA)

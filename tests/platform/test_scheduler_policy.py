"""The scheduler's policy: examples of each rule, then random histories run through a small pool simulator.

The simulator submits, finishes and drains jobs, changes quotas and the pool's size, and applies each plan
the way the database layer does. Every plan is checked against capacity, quotas and the preemption rules,
and every waiting job it does not admit must have a reason naming holders that exist;
after the pool settles (drain, plan, until a plan is empty) no tenant within its nominal quota may be left
waiting behind borrowers, and no job that fits may be left waiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from sanacloud.platform.scheduler.policy import (
    HOLD_WEIGHT_S,
    Admission,
    Held,
    Plan,
    PoolState,
    Quota,
    Wait,
    Waiting,
    WaitKind,
    fair_order,
    plan,
)

NOTHING = Plan(admit=(), preempt=())
T = TypeVar("T")


def pool_state(capacity: int, quotas: Mapping[str, Quota], *, held: Sequence[Held] = (),
               waiting: Sequence[Waiting] = (), weights: Mapping[str, float] | None = None,
               usage: Mapping[str, float] | None = None) -> PoolState:
    return PoolState(capacity=capacity, quotas=quotas, weights=weights or {}, recent_usage=usage or {},
                     held=held, waiting=waiting)


def queue(tenant: str, count: int, *, gpus: int = 1, first_seq: int = 0) -> list[Waiting]:
    """`count` jobs of one tenant, named tenant0, tenant1, ... oldest first."""
    return [Waiting(f"{tenant}{i}", tenant, gpus, priority=0, created_seq=first_seq + i) for i in range(count)]


def admitted(*job_ids: str, borrowed: bool = False) -> tuple[Admission, ...]:
    return tuple(Admission(job_id, borrowed) for job_id in job_ids)


def actions(decided: Plan) -> Plan:
    """The plan's admissions and preemptions only, to compare with an expected plan."""
    return Plan(admit=decided.admit, preempt=decided.preempt)


def decide(state: PoolState) -> Plan:
    """`plan`, with its waits checked, reduced to its actions."""
    decided = plan(state)
    check_waits(state, decided)
    return actions(decided)


def reasons(state: PoolState) -> dict[str, tuple[WaitKind, tuple[str, ...]]]:
    """Each waiting job's reason for not being admitted, and the holders it names."""
    decided = plan(state)
    check_waits(state, decided)
    return {wait.job_id: (wait.kind, wait.holders) for wait in decided.waits}


# --- examples -----------------------------------------------------------------------------------------------

def test_empty_pool_admits_up_to_its_capacity() -> None:
    decided = decide(pool_state(4, {"a": Quota(8, 0)}, waiting=queue("a", 6)))
    assert decided == Plan(admit=admitted("a0", "a1", "a2", "a3"), preempt=())


def test_job_beyond_the_nominal_quota_is_borrowed() -> None:
    decided = decide(pool_state(4, {"a": Quota(1, 3)}, waiting=queue("a", 2)))
    assert decided.admit == (Admission("a0", borrowed=False), Admission("a1", borrowed=True))


def test_borrowing_limit_is_respected() -> None:
    decided = decide(pool_state(8, {"a": Quota(1, 1)}, waiting=queue("a", 4)))
    assert decided.admit == (Admission("a0", borrowed=False), Admission("a1", borrowed=True))


def test_tenant_absent_from_quotas_gets_nothing() -> None:
    assert decide(pool_state(8, {}, waiting=queue("a", 1))) == NOTHING


def test_tenant_with_less_recent_usage_goes_first() -> None:
    quotas = {"a": Quota(0, 1), "b": Quota(0, 1)}
    waiting = [*queue("a", 1), *queue("b", 1, first_seq=1)]  # a's job is the older one
    decided = decide(pool_state(1, quotas, waiting=waiting, usage={"a": 100_000.0}))
    assert decided.admit == admitted("b0", borrowed=True)


def test_twice_the_weight_gets_twice_the_gpus() -> None:
    quotas = {"a": Quota(30, 0), "b": Quota(30, 0)}
    waiting = [*queue("a", 40), *queue("b", 40, first_seq=40)]
    decided = decide(pool_state(30, quotas, waiting=waiting, weights={"a": 2.0, "b": 1.0}))
    assert Counter(admission.job_id[0] for admission in decided.admit) == {"a": 20, "b": 10}


def test_fair_order_takes_turns_as_if_every_job_were_admitted() -> None:
    waiting = [*queue("a", 2, gpus=2), *queue("b", 3, first_seq=2)]
    state = pool_state(0, {}, waiting=waiting, usage={"b": HOLD_WEIGHT_S})  # b used 1 GPU-hour recently
    # Shares (GPU-hours): a 0 -> 2 -> 4; b 1 -> 2 -> 3 -> 4. Ties go to the smaller tenant id.
    assert [job.job_id for job in fair_order(state)] == ["a0", "b0", "a1", "b1", "b2"]


def test_within_a_tenant_higher_priority_then_older_goes_first() -> None:
    waiting = [Waiting("low", "a", 1, priority=0, created_seq=0),
               Waiting("high-new", "a", 1, priority=5, created_seq=2),
               Waiting("high-old", "a", 1, priority=5, created_seq=1)]
    state = pool_state(1, {"a": Quota(1, 0)}, waiting=waiting)
    assert [job.job_id for job in fair_order(state)] == ["high-old", "high-new", "low"]
    assert decide(state).admit == admitted("high-old")


def test_borrowers_make_room_for_a_tenant_within_its_nominal_quota() -> None:
    quotas = {"a": Quota(3, 0), "b": Quota(0, 5), "c": Quota(0, 2)}
    held = [Held("b1", "b", 1, borrowed=True, priority=1, admitted_seq=1),
            Held("b2", "b", 1, borrowed=True, priority=0, admitted_seq=2),
            Held("b3", "b", 1, borrowed=True, priority=0, admitted_seq=3),
            Held("b4", "b", 1, borrowed=True, priority=1, admitted_seq=4)]
    waiting = [Waiting("c-job", "c", 1, priority=0, created_seq=0), Waiting("a-job", "a", 3, priority=0, created_seq=1)]
    decided = decide(pool_state(5, quotas, held=held, waiting=waiting))
    # Lowest priority first, the youngest of those first. a-job waits for the idle GPU and the two
    # being freed: c's borrower may not take the idle GPU meanwhile.
    assert decided == Plan(admit=(), preempt=("b3", "b2"))

    after_drain = [job for job in held if job.job_id not in decided.preempt]
    assert decide(pool_state(5, quotas, held=after_drain, waiting=waiting)).admit == admitted("a-job")


def test_reserved_gpus_are_not_taken_by_a_later_job_even_one_within_nominal() -> None:
    quotas = {"a": Quota(3, 0), "b": Quota(0, 3), "c": Quota(1, 0)}
    held = [Held(f"b{i}", "b", 1, borrowed=True, admitted_seq=i) for i in (1, 2, 3)]
    waiting = [*queue("a", 1, gpus=3), *queue("c", 1, first_seq=1)]  # a's turn comes first
    decided = decide(pool_state(4, quotas, held=held, waiting=waiting))
    # a waits for the idle GPU and b3's and b2's; c does not take the idle GPU but makes its own room.
    assert decided == Plan(admit=(), preempt=("b3", "b2", "b1"))


def test_no_borrower_starts_while_a_reservation_waits_not_even_on_a_spare_gpu() -> None:
    quotas = {"a": Quota(2, 0), "b": Quota(1, 2), "c": Quota(0, 1)}
    held = [Held("b1", "b", 2, borrowed=True, draining=True), Held("b2", "b", 1, borrowed=False)]
    waiting = [*queue("a", 1, gpus=2), *queue("c", 1, first_seq=1)]
    # a's job waits for b1's two GPUs; the idle one stays idle until a's job has started.
    assert decide(pool_state(4, quotas, held=held, waiting=waiting)) == NOTHING


def test_a_tenant_does_not_preempt_for_more_than_its_nominal_quota() -> None:
    held = [Held(f"b{i}", "b", 1, borrowed=True, admitted_seq=i) for i in (1, 2, 3, 4)]
    quotas = {"a": Quota(3, 1), "b": Quota(0, 4)}
    decided = decide(pool_state(4, quotas, held=held, waiting=queue("a", 2, gpus=2)))
    assert decided == Plan(admit=(), preempt=("b4", "b3"))  # a's second job would borrow: it waits


def test_draining_jobs_are_not_preempted_twice() -> None:
    held = [Held("b1", "b", 2, borrowed=True, draining=True, admitted_seq=2),
            Held("b2", "b", 2, borrowed=True, admitted_seq=1)]
    quotas = {"a": Quota(4, 0), "b": Quota(0, 4)}
    assert decide(pool_state(4, quotas, held=held, waiting=queue("a", 1, gpus=2))) == NOTHING  # b1's GPUs will do
    assert decide(pool_state(4, quotas, held=held, waiting=queue("a", 1, gpus=4))) == Plan(admit=(), preempt=("b2",))


def test_own_borrowed_jobs_are_not_preempted_for_an_own_nominal_job() -> None:
    # a borrowed a1 when its quota was smaller; it is now within nominal but the pool is full.
    held = [Held("a1", "a", 1, borrowed=True), Held("c1", "c", 1, borrowed=False)]
    quotas = {"a": Quota(2, 0), "c": Quota(1, 0)}
    assert decide(pool_state(2, quotas, held=held, waiting=queue("a", 1, first_seq=5))) == NOTHING


def test_quota_lowered_below_what_is_held_admits_nothing_more_for_that_tenant() -> None:
    held = [Held("a-old", "a", 2, borrowed=False)]
    waiting = [*queue("a", 1), *queue("b", 1, first_seq=1)]
    decided = decide(pool_state(8, {"a": Quota(1, 0), "b": Quota(0, 8)}, held=held, waiting=waiting))
    assert decided == Plan(admit=admitted("b0", borrowed=True), preempt=())


def test_pool_shrunk_below_what_is_held_admits_nothing() -> None:
    held = [Held("b1", "b", 3, borrowed=False)]
    assert decide(pool_state(2, {"a": Quota(2, 0), "b": Quota(3, 0)}, held=held, waiting=queue("a", 1))) == NOTHING


def test_job_larger_than_the_pool_is_skipped_and_preempts_nothing() -> None:
    held = [Held("b1", "b", 2, borrowed=True)]
    waiting = queue("a", 1, gpus=3)
    assert decide(pool_state(2, {"a": Quota(4, 0), "b": Quota(0, 2)}, held=held, waiting=waiting)) == NOTHING


def test_within_nominal_job_that_cannot_be_served_does_not_block_smaller_ones() -> None:
    held = [Held("b1", "b", 2, borrowed=False)]
    waiting = [Waiting("a-big", "a", 3, priority=9, created_seq=0),
               Waiting("a-small", "a", 1, priority=0, created_seq=1),
               Waiting("c-job", "c", 1, priority=0, created_seq=2)]
    quotas = {"a": Quota(4, 0), "b": Quota(2, 0), "c": Quota(0, 1)}
    decided = decide(pool_state(4, quotas, held=held, waiting=waiting))
    # Nothing can free a-big's third GPU, so it reserves nothing and borrowers may use what is idle.
    assert decided == Plan(admit=(Admission("a-small", False), Admission("c-job", True)), preempt=())


def test_a_job_waiting_for_capacity_names_every_holder_of_the_pool() -> None:
    held = [Held("serving:b:base", "b", 1, borrowed=False), Held("c1", "c", 2, borrowed=False)]
    waiting = [*queue("a", 1, gpus=2)]
    state = pool_state(4, {"a": Quota(2, 0), "b": Quota(1, 0), "c": Quota(2, 0)}, held=held, waiting=waiting)
    assert reasons(state) == {"a0": (WaitKind.CAPACITY, ("c1", "serving:b:base"))}
    assert plan(state).waits[0].free == 1


def test_a_job_beyond_its_quota_names_its_tenants_holders_including_this_plans_admissions() -> None:
    held = [Held("a-old", "a", 1, borrowed=False), Held("b1", "b", 1, borrowed=False)]
    state = pool_state(8, {"a": Quota(2, 0), "b": Quota(1, 0)}, held=held, waiting=queue("a", 2))
    assert decide(state).admit == admitted("a0")
    assert reasons(state) == {"a1": (WaitKind.QUOTA, ("a-old", "a0"))}
    assert plan(state).waits[0].tenant_gpus == 2


def test_a_job_with_a_reservation_names_the_jobs_it_waits_for_and_borrowers_name_it() -> None:
    quotas = {"a": Quota(3, 0), "b": Quota(0, 5), "c": Quota(0, 2)}
    held = [Held("b1", "b", 1, borrowed=True, draining=True), Held("b2", "b", 1, borrowed=True, admitted_seq=2),
            Held("b3", "b", 1, borrowed=True, admitted_seq=3), Held("b4", "b", 1, borrowed=True, admitted_seq=4)]
    waiting = [Waiting("c-job", "c", 1, priority=0, created_seq=0), Waiting("a-job", "a", 3, priority=0, created_seq=1)]
    state = pool_state(5, quotas, held=held, waiting=waiting)
    assert decide(state).preempt == ("b4",)
    assert reasons(state) == {"a-job": (WaitKind.RESERVED, ("b1", "b4")),
                              "c-job": (WaitKind.BEHIND_RESERVATION, ("a-job",))}


def test_a_job_larger_than_the_pool_says_so_and_names_no_holder() -> None:
    held = [Held("b1", "b", 2, borrowed=False)]
    state = pool_state(2, {"a": Quota(4, 0), "b": Quota(2, 0)}, held=held, waiting=queue("a", 1, gpus=3))
    assert reasons(state) == {"a0": (WaitKind.LARGER_THAN_POOL, ())}


def test_a_tenant_without_quota_waits_for_quota_with_no_holder() -> None:
    assert reasons(pool_state(8, {}, waiting=queue("a", 1))) == {"a0": (WaitKind.QUOTA, ())}


# --- the simulator ------------------------------------------------------------------------------------------

TENANTS = ("a", "b", "c")
SECONDS_PER_TICK = 60.0
SETTLE_ROUNDS = 50
MAX_CAPACITY = 8


@dataclass
class Pool:
    capacity: int
    quotas: dict[str, Quota]
    weights: dict[str, float]
    usage: dict[str, float]
    held: list[Held] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    submitted: dict[str, Waiting] = field(default_factory=dict)  # to requeue preempted jobs as they were
    seq: int = 0

    def state(self) -> PoolState:
        return PoolState(capacity=self.capacity, quotas=dict(self.quotas), weights=dict(self.weights),
                         recent_usage=dict(self.usage), held=tuple(self.held), waiting=tuple(self.waiting))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def submit(self, tenant: str, gpus: int, priority: int) -> None:
        seq = self.next_seq()
        job = Waiting(f"j{seq}", tenant, gpus, priority, created_seq=seq)
        self.submitted[job.job_id] = job
        self.waiting.append(job)

    def start(self, job: Waiting, *, borrowed: bool, draining: bool = False) -> None:
        self.waiting.remove(job)
        self.held.append(Held(job.job_id, job.tenant_id, job.gpus, borrowed, draining=draining, priority=job.priority,
                              admitted_seq=self.next_seq()))

    def tick(self) -> Plan:
        for job in self.held:
            self.usage[job.tenant_id] = self.usage.get(job.tenant_id, 0.0) + SECONDS_PER_TICK * job.gpus
        state = self.state()
        decided = plan(state)
        check_plan(state, decided)
        for admission in decided.admit:
            self.start(self.submitted[admission.job_id], borrowed=admission.borrowed)
        self.held = [replace(job, draining=True) if job.job_id in decided.preempt else job for job in self.held]
        return actions(decided)

    def drain(self, index: int | None = None) -> None:
        """Draining jobs' workers stop (all, or the index-th only); each job queues again as it was submitted."""
        draining = [job for job in self.held if job.draining]
        stopping = draining if index is None or not draining else [draining[index % len(draining)]]
        self.waiting += [self.submitted[job.job_id] for job in stopping]
        self.held = [job for job in self.held if job not in stopping]

    def settle(self) -> None:
        for _ in range(SETTLE_ROUNDS):
            self.drain()
            if self.tick() == NOTHING:
                check_settled(self.state())
                return
        raise AssertionError(f"no empty plan after {SETTLE_ROUNDS} rounds of drain and plan")


def gpus_by_tenant(jobs: Iterable[Held]) -> Counter[str]:
    gpus: Counter[str] = Counter()
    for job in jobs:
        gpus[job.tenant_id] += job.gpus
    return gpus


def quota_of(state: PoolState, tenant: str) -> Quota:
    return state.quotas.get(tenant, Quota(0, 0))


def is_within_nominal(state: PoolState, job: Waiting) -> bool:
    held = gpus_by_tenant(state.held)[job.tenant_id]
    return job.gpus <= state.capacity and held + job.gpus <= quota_of(state, job.tenant_id).nominal


def flip(mapping: Mapping[str, T]) -> dict[str, T]:
    return dict(reversed(list(mapping.items())))


def reversed_state(state: PoolState) -> PoolState:
    """The same state listed in the opposite order: the plan must not depend on the order."""
    return replace(state, quotas=flip(state.quotas), weights=flip(state.weights),
                   recent_usage=flip(state.recent_usage), held=state.held[::-1], waiting=state.waiting[::-1])


def check_plan(state: PoolState, decided: Plan) -> None:
    waiting = {job.job_id: job for job in state.waiting}
    held = {job.job_id: job for job in state.held}
    admitted_ids = [admission.job_id for admission in decided.admit]
    assert len(set(admitted_ids)) == len(admitted_ids) and set(admitted_ids) <= waiting.keys()
    assert len(set(decided.preempt)) == len(decided.preempt) and set(decided.preempt) <= held.keys()

    # Checked after each admission: a pool or tenant already over its limit gets no admission at all.
    tenant_gpus = gpus_by_tenant(state.held)
    total_gpus = sum(job.gpus for job in state.held)
    for admission in decided.admit:
        job = waiting[admission.job_id]
        quota = quota_of(state, job.tenant_id)
        assert admission.borrowed == (tenant_gpus[job.tenant_id] + job.gpus > quota.nominal)
        tenant_gpus[job.tenant_id] += job.gpus
        total_gpus += job.gpus
        assert tenant_gpus[job.tenant_id] <= quota.nominal + quota.borrowing_limit
        assert total_gpus <= state.capacity

    for job_id in decided.preempt:
        victim = held[job_id]
        assert victim.borrowed and not victim.draining
        assert any(is_within_nominal(state, job) for job in state.waiting if job.tenant_id != victim.tenant_id)
    if decided.preempt:  # making room for a nominal job: borrowers wait
        assert not any(admission.borrowed for admission in decided.admit)

    check_waits(state, decided)
    assert plan(reversed_state(state)) == decided


def check_waits(state: PoolState, decided: Plan) -> None:
    """Each waiting job not admitted has one reason, and it names holders that exist and fit the reason."""
    waiting = {job.job_id: job for job in state.waiting}
    held = {job.job_id: job for job in state.held}
    admitted_ids = {admission.job_id for admission in decided.admit}
    reserved = {wait.job_id for wait in decided.waits if wait.kind is WaitKind.RESERVED}
    assert [wait.job_id for wait in decided.waits if wait.job_id in waiting] == [wait.job_id for wait in decided.waits]
    assert sorted(wait.job_id for wait in decided.waits) == sorted(waiting.keys() - admitted_ids)
    for wait in decided.waits:
        job = waiting[wait.job_id]
        assert list(wait.holders) == sorted(set(wait.holders))
        assert set(wait.holders) <= held.keys() | admitted_ids | reserved, f"{wait} names a holder that does not exist"
        holding = [held[holder] if holder in held else waiting[holder] for holder in wait.holders]
        check_wait(state, decided, job, wait, holding)


def check_wait(state: PoolState, decided: Plan, job: Waiting, wait: Wait, holding: list[Held | Waiting]) -> None:
    """The reason holds: the job really is blocked that way, and by those holders."""
    assert (wait.kind is WaitKind.LARGER_THAN_POOL) == (job.gpus > state.capacity)
    quota = quota_of(state, job.tenant_id)
    if wait.kind is WaitKind.LARGER_THAN_POOL:
        assert wait.holders == ()
    elif wait.kind is WaitKind.QUOTA:  # its tenant's own holders, all of them
        assert all(holder.tenant_id == job.tenant_id for holder in holding)
        assert sum(holder.gpus for holder in holding) == wait.tenant_gpus
        assert wait.tenant_gpus + job.gpus > quota.nominal + quota.borrowing_limit
    elif wait.kind is WaitKind.CAPACITY:  # holders of at least every GPU that is not free
        assert job.gpus > wait.free and sum(holder.gpus for holder in holding) >= state.capacity - wait.free
    elif wait.kind is WaitKind.RESERVED:  # the jobs being stopped for it
        stopping = {job.job_id for job in state.held if job.draining} | set(decided.preempt)
        assert wait.holders and set(wait.holders) <= stopping
    else:  # behind the jobs within nominal that hold reservations
        assert wait.kind is WaitKind.BEHIND_RESERVATION and wait.holders
        assert set(wait.holders) <= {other.job_id for other in decided.waits if other.kind is WaitKind.RESERVED}
        assert wait.tenant_gpus + job.gpus > quota.nominal


def check_settled(state: PoolState) -> None:
    assert not any(job.draining for job in state.held)
    free = state.capacity - sum(job.gpus for job in state.held)
    tenant_gpus = gpus_by_tenant(state.held)
    for job in state.waiting:
        quota = quota_of(state, job.tenant_id)
        room = quota.nominal + quota.borrowing_limit - tenant_gpus[job.tenant_id]
        assert job.gpus > free or job.gpus > room, f"{job} fits but waits"
        if is_within_nominal(state, job):
            others_borrowed = sum(held.gpus for held in state.held if held.borrowed and held.tenant_id != job.tenant_id)
            assert job.gpus > free + others_borrowed, f"{job} is within nominal but starves behind borrowers"


@dataclass(frozen=True)
class Submit:
    tenant: str
    gpus: int
    priority: int

    def apply(self, pool: Pool) -> None:
        pool.submit(self.tenant, self.gpus, self.priority)


@dataclass(frozen=True)
class Finish:
    index: int

    def apply(self, pool: Pool) -> None:
        if pool.held:
            del pool.held[self.index % len(pool.held)]


@dataclass(frozen=True)
class SetQuota:
    tenant: str
    quota: Quota

    def apply(self, pool: Pool) -> None:
        pool.quotas[self.tenant] = self.quota


@dataclass(frozen=True)
class Resize:
    capacity: int

    def apply(self, pool: Pool) -> None:
        pool.capacity = self.capacity


@dataclass(frozen=True)
class Tick:
    def apply(self, pool: Pool) -> None:
        pool.tick()


@dataclass(frozen=True)
class Drain:
    index: int | None  # None: every draining job stops

    def apply(self, pool: Pool) -> None:
        pool.drain(self.index)


@dataclass(frozen=True)
class Settle:
    def apply(self, pool: Pool) -> None:
        pool.settle()


Operation = Submit | Finish | SetQuota | Resize | Tick | Drain | Settle

tenants = st.sampled_from(TENANTS)
quotas = st.builds(Quota, nominal=st.integers(0, 4), borrowing_limit=st.integers(0, 6))
submits = st.builds(Submit, tenants, gpus=st.integers(1, 3), priority=st.integers(0, 2))
# Submissions and ticks come up more often than the rest, to keep the pool busy and contended.
kinds_of_operation: list[st.SearchStrategy[Operation]] = [
    *[submits] * 3, *[st.just(Tick())] * 3, st.builds(Finish, st.integers(0, 20)), st.builds(SetQuota, tenants, quotas),
    st.builds(Resize, st.integers(0, MAX_CAPACITY)), st.builds(Drain, st.none() | st.integers(0, 5)), st.just(Settle())]
operations = st.sampled_from(kinds_of_operation).flatmap(lambda kind: kind)


@st.composite
def pools(draw: st.DrawFn) -> Pool:
    """A pool that may already be full of borrowed jobs (admitted before quotas changed), some of them draining."""
    pool = Pool(capacity=MAX_CAPACITY,
                quotas=draw(st.fixed_dictionaries({"a": quotas, "b": quotas}, optional={"c": quotas})),
                weights=draw(st.dictionaries(tenants, st.sampled_from([0.5, 1.0, 2.0]))),
                usage=draw(st.dictionaries(tenants, st.floats(0, 20_000))))
    for submit, draining in draw(st.lists(st.tuples(submits, st.booleans()), max_size=6)):
        if sum(job.gpus for job in pool.held) + submit.gpus <= MAX_CAPACITY:
            submit.apply(pool)
            pool.start(pool.waiting[-1], borrowed=True, draining=draining)
    pool.capacity = draw(st.integers(max(1, sum(job.gpus for job in pool.held)), MAX_CAPACITY))
    return pool


@settings(max_examples=200, deadline=None)
@given(pool=pools(), history=st.lists(operations, min_size=10, max_size=60))
def test_random_histories_keep_the_rules(pool: Pool, history: list[Operation]) -> None:
    for operation in [*history, Settle()]:
        operation.apply(pool)


@st.composite
def crowded_pools(draw: st.DrawFn) -> Pool:
    """A full pool: b and c, with no nominal quota, borrowed all of it (some jobs draining already); a has a quota."""
    pool = Pool(capacity=0, quotas={"a": draw(st.builds(Quota, st.integers(1, 6), st.integers(0, 3))),
                                    "b": Quota(0, MAX_CAPACITY), "c": Quota(0, MAX_CAPACITY)},
                weights=draw(st.dictionaries(tenants, st.sampled_from([0.5, 1.0, 2.0]))), usage={})
    borrowers = st.builds(Submit, st.sampled_from(["b", "c"]), gpus=st.integers(1, 3), priority=st.integers(0, 2))
    for submit, draining in draw(st.lists(st.tuples(borrowers, st.booleans()), min_size=1, max_size=6)):
        submit.apply(pool)
        pool.start(pool.waiting[-1], borrowed=True, draining=draining)
    pool.capacity = sum(job.gpus for job in pool.held)
    return pool


@settings(max_examples=150, deadline=None)
@given(pool=crowded_pools(), arrivals=st.lists(submits, min_size=1, max_size=8))
def test_borrowers_make_room_once_and_enough(pool: Pool, arrivals: list[Submit]) -> None:
    for submit in arrivals:
        submit.apply(pool)
    draining = sum(job.gpus for job in pool.held if job.draining)
    held = {job.job_id: job for job in pool.held}
    stopping = [held[job_id] for job_id in pool.tick().preempt]
    if stopping:  # all for a: no more than its nominal quota, give or take what the last one frees beyond the need
        surplus = max(job.gpus for job in stopping) - 1
        assert draining + sum(job.gpus for job in stopping) <= pool.quotas["a"].nominal + surplus
    pool.drain()
    # Only a is within nominal: once the preempted jobs stop, the jobs that waited for them must fit.
    assert pool.tick().preempt == ()
    pool.settle()


@settings(max_examples=100, deadline=None)
@given(pool=pools(), history=st.lists(operations, max_size=30), backlog=st.lists(submits, max_size=12))
def test_fair_order_always_serves_the_lowest_share_next(pool: Pool, history: list[Operation],
                                                        backlog: list[Submit]) -> None:
    for operation in [*history, *backlog]:
        operation.apply(pool)
    state = pool.state()
    held = gpus_by_tenant(state.held)
    weight = {tenant: state.weights.get(tenant, 1.0) for tenant in TENANTS}
    shares = {tenant: (state.recent_usage.get(tenant, 0.0) + HOLD_WEIGHT_S * held[tenant]) / weight[tenant]
              for tenant in TENANTS}
    remaining = list(state.waiting)
    for job in fair_order(state):
        tenant = min({waiting.tenant_id for waiting in remaining}, key=lambda tenant: (shares[tenant], tenant))
        assert job == min((waiting for waiting in remaining if waiting.tenant_id == tenant),
                          key=lambda waiting: (-waiting.priority, waiting.created_seq))
        remaining.remove(job)
        shares[tenant] += HOLD_WEIGHT_S * job.gpus / weight[tenant]
    assert remaining == []

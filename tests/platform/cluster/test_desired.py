"""The executor's decision core (platform/cluster/desired.py) over random histories, against a small
simulated cluster: Jobs get pods, the ReplicaSet removes the pods of lowest deletion cost first,
deletions terminate at the next step. What must always hold: the cluster is never asked for more
GPUs than the database admitted, each attempt has at most one Job, a busy inference pod is never
scaled away, a pass repeated changes nothing, and after a drain nothing owned is left."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from sanacloud.platform.cluster.desired import (
    Attempt,
    AttemptFailed,
    AttemptLost,
    Launched,
    ObservedDeployment,
    ObservedJob,
    ObservedPod,
    Plan,
    PodProblem,
    Pool,
    Serving,
    Trouble,
    World,
    plan,
    shape,
)
from sanacloud.platform.cluster.names import inference_name

POOLS = (Pool("a100", 8), Pool("h100", 2))


@dataclass
class Cluster:
    """What an API server and its controllers would hold after each plan."""

    jobs: dict[str, ObservedJob] = field(default_factory=dict)
    job_gpus: dict[str, int] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    deployments: dict[str, ObservedDeployment] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    removed_busy: list[str] = field(default_factory=list)
    counter: int = 0

    def apply(self, decided: Plan) -> None:
        for s in decided.create_jobs:
            assert s.name not in self.jobs, f"a second Job for {s.name}"
            pods = tuple(ObservedPod(f"{s.name}-{i}") for i in range(s.nodes))
            self.jobs[s.name] = ObservedJob(s.name, s.job_id, s.attempt, pods=pods)
            self.job_gpus[s.name] = s.gpus
        self.services |= {s.name for s in decided.create_services}
        for name in decided.delete_jobs:
            self.jobs[name] = replace(self.jobs[name], terminating=True)
        self.services -= set(decided.delete_services)
        costs = dict(decided.deletion_costs)
        for name, deployment in self.deployments.items():
            self.deployments[name] = replace(deployment, pods=tuple(
                replace(p, deletion_cost=costs.get(p.name, p.deletion_cost)) for p in deployment.pods))
        for inference in decided.apply_deployments:
            old = self.deployments.get(inference.name)
            self.deployments[inference.name] = ObservedDeployment(inference.name, inference.replicas,
                                                                  pods=old.pods if old else ())
        for name, replicas in decided.scale_deployments:
            self.deployments[name] = replace(self.deployments[name], replicas=replicas)
        for name in decided.delete_deployments:
            self.deployments[name] = replace(self.deployments[name], terminating=True)
        for name in list(self.deployments):
            self._replica_set(name)

    def _replica_set(self, name: str) -> None:
        deployment = self.deployments[name]
        pods = list(deployment.pods)
        wanted = 0 if deployment.terminating else deployment.replicas
        while len(pods) < wanted:
            self.counter += 1
            pods.append(ObservedPod(f"{name}-{self.counter}", busy=False))
        pods.sort(key=lambda p: (p.deletion_cost or 0))
        while len(pods) > wanted:
            gone = pods.pop(0)
            if gone.name in self.busy:
                self.removed_busy.append(gone.name)
        self.deployments[name] = replace(deployment, pods=tuple(
            replace(p, busy=p.name in self.busy) for p in pods))

    def make_busy(self, count: int) -> None:
        """The first `count` inference pods start sampling."""
        pods = [p.name for d in self.deployments.values() for p in d.pods]
        self.busy = set(pods[:count])
        for name, deployment in self.deployments.items():
            self.deployments[name] = replace(deployment, pods=tuple(
                replace(p, busy=p.name in self.busy) for p in deployment.pods))

    def settle(self) -> None:
        """Terminations end (the kubelet is done)."""
        self.jobs = {n: j for n, j in self.jobs.items() if not j.terminating}
        self.deployments = {n: d for n, d in self.deployments.items() if not d.terminating}

    def world(self, attempts: tuple[Attempt, ...], serving: tuple[Serving, ...]) -> World:
        return World(attempts=attempts, serving=serving, pools=POOLS, jobs=tuple(self.jobs.values()),
                     services=tuple(sorted(self.services)), deployments=tuple(self.deployments.values()),
                     shared_work=True)

    def owned(self) -> int:
        return len(self.jobs) + len(self.services) + len(self.deployments)


# A job keeps its pool and GPU count across attempts.
JOBS = {f"job_{i}": (POOLS[i % 2].name, gpus) for i, gpus in enumerate((1, 2, 3, 8, 12, 16))}
attempts_strategy = st.lists(st.builds(
    lambda job_id, attempt, running, stopping: Attempt(job_id, attempt, *JOBS[job_id], running=running,
                                                       stopping=running and stopping),
    st.sampled_from(sorted(JOBS)), st.integers(1, 3), st.booleans(), st.booleans()),
    max_size=6, unique_by=lambda a: a.job_id)
serving_strategy = st.lists(st.builds(Serving, pool=st.sampled_from([p.name for p in POOLS]),
                                      key=st.sampled_from(["mdl_a", "mdl_b", "mdl_c"]), replicas=st.integers(0, 3)),
                            max_size=4, unique_by=lambda s: (s.pool, s.key))
history = st.lists(st.tuples(attempts_strategy, serving_strategy, st.integers(0, 5)), min_size=1, max_size=6)


def _feedback(attempts: tuple[Attempt, ...], decided: Plan) -> tuple[Attempt, ...]:
    """The database after the plan's reports: launched recorded; failed and lost attempts gone."""
    ended = {(f.job_id, f.attempt) for f in decided.feedback if isinstance(f, AttemptFailed | AttemptLost)}
    launched = {(f.job_id, f.attempt) for f in decided.feedback if isinstance(f, Launched)}
    return tuple(replace(a, launched=a.launched or (a.job_id, a.attempt) in launched)
                 for a in attempts if (a.job_id, a.attempt) not in ended)


def _check(cluster: Cluster, attempts: tuple[Attempt, ...], serving: tuple[Serving, ...]) -> None:
    live = [j for j in cluster.jobs.values() if not j.terminating]
    by_attempt = {(a.job_id, a.attempt): a for a in attempts if not a.stopping}
    assert len({(j.job_id, j.attempt) for j in live}) == len(live), "two Jobs for one attempt"
    for job in live:
        attempt = by_attempt.get((job.job_id, job.attempt))
        assert attempt is not None, f"{job.name} runs for no admitted attempt"
        assert cluster.job_gpus[job.name] == attempt.gpus, "a Job asks for other GPUs than admitted"
    wanted = {inference_name(s.pool, s.key): s.replicas for s in serving}
    for deployment in cluster.deployments.values():
        busy = sum(p.busy for p in deployment.pods)
        assert deployment.replicas <= max(wanted.get(deployment.name, 0), busy), "replicas beyond the GPUs held"
    assert not cluster.removed_busy, f"busy pods scaled away: {cluster.removed_busy}"


@settings(max_examples=100, deadline=None)
@given(history)
def test_random_histories_keep_the_invariants_and_drain_to_nothing(steps: list) -> None:  # type: ignore[type-arg]
    cluster = Cluster()
    attempts: tuple[Attempt, ...] = ()
    for new_attempts, serving_list, busy_count in steps:
        known = {(a.job_id, a.attempt): a for a in attempts}
        attempts = tuple(replace(a, launched=known[(a.job_id, a.attempt)].launched)
                         if (a.job_id, a.attempt) in known else a for a in new_attempts)
        serving = tuple(serving_list)
        cluster.make_busy(busy_count)
        for _ in range(2):  # a pass, then the same pass again on what it made
            decided = plan(cluster.world(attempts, serving))
            cluster.apply(decided)
            attempts = _feedback(attempts, decided)
            _check(cluster, attempts, serving)
        again = plan(cluster.world(attempts, serving))
        assert not (again.create_jobs or again.create_services or again.apply_deployments), "a pass is not idempotent"
        cluster.settle()
    cluster.make_busy(0)
    for _ in range(4):  # everything ends: nothing is wanted, nothing is busy
        cluster.apply(plan(cluster.world((), ())))
        cluster.settle()
    assert cluster.owned() == 0, f"left behind: {cluster.jobs}, {cluster.services}, {cluster.deployments}"


def test_a_run_gets_exactly_its_gpus_on_as_few_nodes_as_hold_them() -> None:
    def of(gpus: int, per_node: int, lora: bool = False) -> tuple[int, int] | None:
        s = shape(Attempt("job_1", 1, "p", gpus, running=False, lora=lora), per_node)
        return (s.nodes, s.gpus_per_pod) if s else None

    assert of(1, 8) == (1, 1) and of(8, 8) == (1, 8) and of(16, 8) == (2, 8) and of(12, 8) == (2, 6)
    assert of(9, 8) is None and of(13, 8) is None, "no even split over the nodes they need"
    assert of(16, 8, lora=True) == (1, 8), "a LoRA run trains on one device: one pod"
    decided = plan(World(attempts=(Attempt("job_1", 1, "a100", 9, running=False),), pools=POOLS, shared_work=True))
    (failed,) = decided.feedback
    assert isinstance(failed, AttemptFailed) and "ask for a multiple of 2" in failed.reason and not decided.create_jobs


def test_pod_trouble_becomes_what_the_user_is_told() -> None:
    attempt = Attempt("job_1", 2, "h100", 1, running=False, launched=True)
    name = shape(attempt, 1).name

    def verdict(problem: PodProblem, ended: str | None = None, reported: str | None = None,
                finished: bool = False) -> tuple[object, ...]:
        pod = ObservedPod(f"{name}-0", problem=problem, finished=finished)
        job = ObservedJob(name, "job_1", 2, ended=ended, pods=(pod,))
        return plan(World(attempts=(replace(attempt, reported=reported),), pools=POOLS, jobs=(job,))).feedback

    waiting = PodProblem(Trouble.UNSCHEDULABLE, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    (said,) = verdict(waiting)
    assert said.message == f"waiting for a GPU node in pool h100: {waiting.message}"
    assert verdict(waiting, reported=said.message) == (), "the same trouble is told once"
    (failed,) = verdict(PodProblem(Trouble.IMAGE, "ErrImagePull: manifest unknown"))
    assert isinstance(failed, AttemptFailed) and "manifest unknown" in failed.reason
    evicted = PodProblem(Trouble.EVICTED, "its pod was evicted: low on memory")
    assert verdict(evicted, ended="failed") == (), "a pod still in its grace (checkpointing) ends first"
    (lost,) = verdict(evicted, ended="failed", finished=True)
    assert isinstance(lost, AttemptLost) and "evicted" in lost.reason


def test_a_multi_node_run_without_a_shared_folder_fails_saying_what_to_set() -> None:
    attempt = Attempt("job_1", 1, "h100", 4, running=False)
    decided = plan(World(attempts=(attempt,), pools=POOLS, shared_work=False))
    assert not decided.create_jobs
    (failed,) = decided.feedback
    assert isinstance(failed, AttemptFailed) and "SANACLOUD_KUBERNETES_SHARED_CLAIM" in failed.reason

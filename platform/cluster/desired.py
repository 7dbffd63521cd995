"""The executor's decision core: given what the database says should run and what the cluster
has, what to create, delete and scale, and what to tell the database back. A pure function, like
the admission policy: no I/O, so that property tests can drive it over random histories.

Training: every admitted or running attempt has one Job of its exact shape (an Indexed Job and a
headless Service when it spans nodes). A Job no attempt wants is deleted, its pods with the grace
a trainer needs to checkpoint (their own termination grace); so is the Job of an attempt asked to
stop (cancel, preemption): its pod checkpoints on SIGTERM. A pod's trouble flows back: an
unschedulable pod (or one whose container cannot start yet) is reported as such, an image the
kubelet keeps failing to pull fails the attempt, an evicted or failed pod requeues it once it has
stopped.

Inference: each (pool, served model) has a Deployment whose replicas are the GPUs the database
holds for that model. Scaling down never removes a busy pod: busy pods are kept (the replicas stop
at their number) and idle ones get the lowest pod-deletion-cost, the ReplicaSet's rule for which
pods go first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from sanacloud.platform.cluster import names

IDLE_COST, BUSY_COST = -100, 100


# ---------------------------------------------------------------------------------------------
# What the database says.


@dataclass(frozen=True)
class Attempt:
    """A job's current attempt that holds GPUs (admitted or running)."""

    job_id: str
    attempt: int
    pool: str
    gpus: int
    running: bool  # claimed by its pod
    lora: bool = False  # a LoRA run trains on one device: never split across nodes
    stopping: bool = False  # cancel, preemption or pause asked of a running attempt
    launched: bool = False  # the database has recorded its Job
    reported: str | None = None  # the pod trouble last reported to the user


@dataclass(frozen=True)
class Serving:
    """GPUs held for one served model in a pool: its inference replicas."""

    pool: str
    key: str
    replicas: int


@dataclass(frozen=True)
class Pool:
    name: str
    gpus_per_node: int


# ---------------------------------------------------------------------------------------------
# What the cluster has (only objects the executor owns).


class Trouble(StrEnum):
    UNSCHEDULABLE = "unschedulable"  # waits for a node: worth telling, not fatal
    STARTING = "starting"  # its container cannot start yet (a first pull failed, a missing Secret): told
    IMAGE = "image"  # the kubelet retried pulling the image and still cannot: fatal
    EVICTED = "evicted"  # the node took the pod away: the attempt runs again elsewhere
    FAILED = "failed"  # the pod (or the Job) ended in failure


@dataclass(frozen=True)
class PodProblem:
    trouble: Trouble
    message: str


@dataclass(frozen=True)
class ObservedPod:
    name: str
    terminating: bool = False
    finished: bool = False  # Succeeded or Failed: its containers have stopped
    problem: PodProblem | None = None
    busy: bool = False  # inference: a generation runs on it
    deletion_cost: int | None = None


@dataclass(frozen=True)
class ObservedJob:
    name: str
    job_id: str
    attempt: int
    terminating: bool = False
    ended: str | None = None  # "complete" | "failed"
    failure: str | None = None  # the Job's own failure message (deadline exceeded, ...)
    deadline_exceeded: bool = False  # it ran past its activeDeadlineSeconds
    pods: tuple[ObservedPod, ...] = ()


@dataclass(frozen=True)
class ObservedDeployment:
    name: str
    replicas: int
    terminating: bool = False
    outdated: bool = False  # its pod template is not what the executor would make now (a new image)
    pods: tuple[ObservedPod, ...] = ()


@dataclass(frozen=True)
class World:
    attempts: tuple[Attempt, ...] = ()
    serving: tuple[Serving, ...] = ()
    pools: tuple[Pool, ...] = ()
    jobs: tuple[ObservedJob, ...] = ()
    services: tuple[str, ...] = ()  # headless Services of multi-node attempts
    deployments: tuple[ObservedDeployment, ...] = ()
    shared_work: bool = False  # a ReadWriteMany volume is configured for multi-node attempts


# ---------------------------------------------------------------------------------------------
# What to do.


@dataclass(frozen=True)
class TrainingShape:
    """One attempt's pods: `nodes` pods of `gpus_per_pod` GPUs each."""

    job_id: str
    attempt: int
    pool: str
    nodes: int
    gpus_per_pod: int

    @property
    def name(self) -> str:
        return names.training_name(self.job_id, self.attempt)

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_pod


@dataclass(frozen=True)
class InferenceShape:
    pool: str
    key: str
    replicas: int

    @property
    def name(self) -> str:
        return names.inference_name(self.pool, self.key)


@dataclass(frozen=True)
class Launched:
    job_id: str
    attempt: int
    name: str


@dataclass(frozen=True)
class PodWaiting:
    job_id: str
    attempt: int
    message: str


@dataclass(frozen=True)
class AttemptFailed:
    """Fails the job: what went wrong will not go away by itself."""

    job_id: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class AttemptLost:
    """Requeues the attempt, as a lost worker's: it resumes from its last checkpoint."""

    job_id: str
    attempt: int
    reason: str


Feedback = Launched | PodWaiting | AttemptFailed | AttemptLost


@dataclass(frozen=True)
class Plan:
    create_jobs: tuple[TrainingShape, ...] = ()
    create_services: tuple[TrainingShape, ...] = ()
    delete_jobs: tuple[str, ...] = ()
    delete_services: tuple[str, ...] = ()
    deletion_costs: tuple[tuple[str, int], ...] = ()  # (pod, cost), set before the replicas fall
    apply_deployments: tuple[InferenceShape, ...] = ()  # created, or brought up to date (the image)
    scale_deployments: tuple[tuple[str, int], ...] = ()
    delete_deployments: tuple[str, ...] = ()
    feedback: tuple[Feedback, ...] = ()


@dataclass
class _Draft:
    create_jobs: list[TrainingShape] = field(default_factory=list)
    delete_jobs: list[str] = field(default_factory=list)
    deletion_costs: list[tuple[str, int]] = field(default_factory=list)
    apply_deployments: list[InferenceShape] = field(default_factory=list)
    scale_deployments: list[tuple[str, int]] = field(default_factory=list)
    delete_deployments: list[str] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The decision.


def shape(attempt: Attempt, gpus_per_node: int) -> TrainingShape | None:
    """As few nodes as hold the attempt's GPUs, the same number on each, so that it asks for exactly its
    GPUs (12 on 8-GPU nodes: 2 pods of 6); None when they do not split evenly over that many (13 on
    8-GPU nodes). A LoRA run is one pod, of at most a node's GPUs: it trains on one device."""
    per_node = max(1, gpus_per_node)
    if attempt.lora:
        return TrainingShape(attempt.job_id, attempt.attempt, attempt.pool, 1, min(attempt.gpus, per_node))
    nodes = max(1, math.ceil(attempt.gpus / per_node))
    if attempt.gpus % nodes:
        return None
    return TrainingShape(attempt.job_id, attempt.attempt, attempt.pool, nodes, attempt.gpus // nodes)


def plan(world: World) -> Plan:
    draft = _Draft()
    multi_node = {s.name: s for s in _plan_training(world, draft) if s.nodes > 1}
    _plan_inference(world, draft)
    return Plan(create_jobs=tuple(draft.create_jobs),
                create_services=tuple(s for name, s in multi_node.items() if name not in world.services),
                delete_jobs=tuple(draft.delete_jobs),
                delete_services=tuple(name for name in world.services if name not in multi_node),
                deletion_costs=tuple(draft.deletion_costs), apply_deployments=tuple(draft.apply_deployments),
                scale_deployments=tuple(draft.scale_deployments),
                delete_deployments=tuple(draft.delete_deployments), feedback=tuple(draft.feedback))


def _plan_training(world: World, draft: _Draft) -> list[TrainingShape]:
    """Decide every attempt's Job; returns the shapes of the Jobs that stay or are created."""
    per_node = {pool.name: pool.gpus_per_node for pool in world.pools}
    observed = {(job.job_id, job.attempt): job for job in world.jobs}
    live = []
    for attempt in world.attempts:
        if attempt.stopping:
            continue  # its Job is deleted below: SIGTERM makes the pod checkpoint or stop
        nodes_gpus = per_node.get(attempt.pool, 1)
        wanted = shape(attempt, nodes_gpus)
        job = observed.get((attempt.job_id, attempt.attempt))
        if wanted is None:
            nodes = math.ceil(attempt.gpus / nodes_gpus)
            draft.feedback.append(AttemptFailed(
                attempt.job_id, attempt.attempt,
                f"{attempt.gpus} GPUs do not split evenly over the {nodes} nodes of {nodes_gpus} GPUs they need in "
                f"pool {attempt.pool!r}: ask for a multiple of {nodes}"))
            continue
        if job is None:
            if _launch(world, attempt, wanted, draft):
                live.append(wanted)
            continue
        if job.terminating:
            continue
        verdict = _verdict(attempt, job)
        if verdict is not None:
            draft.feedback.append(verdict)
            if not isinstance(verdict, PodWaiting):
                continue  # deleted below: the attempt ends, or runs again as a new one
        if not attempt.launched:
            draft.feedback.append(Launched(attempt.job_id, attempt.attempt, job.name))
        live.append(wanted)
    kept = {s.name for s in live}
    draft.delete_jobs.extend(job.name for job in world.jobs if job.name not in kept and not job.terminating)
    return live


def _launch(world: World, attempt: Attempt, wanted: TrainingShape, draft: _Draft) -> bool:
    """Create the attempt's Job, or say why not; True when created."""
    if attempt.running:  # claimed, so its pod existed: deleted by someone, or gone with its node
        draft.feedback.append(AttemptLost(attempt.job_id, attempt.attempt, "its pod is gone"))
    elif wanted.nodes > 1 and not world.shared_work:
        draft.feedback.append(AttemptFailed(
            attempt.job_id, attempt.attempt,
            f"a run of {attempt.gpus} GPUs spans {wanted.nodes} nodes of pool {attempt.pool!r}, which needs a "
            "shared working folder: the operator must set SANACLOUD_KUBERNETES_SHARED_CLAIM"))
    else:
        draft.create_jobs.append(wanted)
        draft.feedback.append(Launched(attempt.job_id, attempt.attempt, wanted.name))
        return True
    return False


def _verdict(attempt: Attempt, job: ObservedJob) -> Feedback | None:
    """What the Job's state means for the attempt; None when all is well."""
    problems = [pod.problem for pod in job.pods if pod.problem is not None]
    image = next((p for p in problems if p.trouble is Trouble.IMAGE), None)
    if image is not None:
        return AttemptFailed(attempt.job_id, attempt.attempt, f"its pod could not start: {image.message}")
    if job.ended is not None and any(not pod.finished for pod in job.pods):
        return None  # a pod still stopping (a checkpoint in its grace) reports its own end first
    if job.deadline_exceeded:  # running it again would only run out of time again
        return AttemptFailed(attempt.job_id, attempt.attempt,
                             f"it ran longer than its deadline (SANACLOUD_ATTEMPT_DEADLINE_S): {job.failure}")
    if job.ended is not None:
        gone = next((p for p in problems if p.trouble in (Trouble.EVICTED, Trouble.FAILED)), None)
        reason = gone.message if gone else job.failure or f"its pod ended ({job.ended}) without reporting"
        return AttemptLost(attempt.job_id, attempt.attempt, reason)
    waiting = next((p for p in problems if p.trouble in (Trouble.UNSCHEDULABLE, Trouble.STARTING)), None)
    if waiting is None:
        return None
    message = (f"waiting for a GPU node in pool {attempt.pool}: {waiting.message}"
               if waiting.trouble is Trouble.UNSCHEDULABLE else f"its pod cannot start yet: {waiting.message}")
    return PodWaiting(attempt.job_id, attempt.attempt, message) if message != attempt.reported else None


def _plan_inference(world: World, draft: _Draft) -> None:
    wanted = {names.inference_name(s.pool, s.key): s for s in world.serving if s.replicas > 0}
    for deployment in world.deployments:
        if deployment.terminating:
            continue
        serving = wanted.pop(deployment.name, None)
        if serving is not None and deployment.outdated:
            draft.apply_deployments.append(InferenceShape(serving.pool, serving.key, deployment.replicas))
        if serving is None and deployment.replicas == 0 and not deployment.pods:
            draft.delete_deployments.append(deployment.name)  # scaled to zero and drained
        else:
            _scale(deployment, serving.replicas if serving else 0, draft)
    draft.apply_deployments.extend(InferenceShape(s.pool, s.key, s.replicas) for s in wanted.values())


def _scale(deployment: ObservedDeployment, wanted: int, draft: _Draft) -> None:
    live = [pod for pod in deployment.pods if not pod.terminating]
    busy = sum(pod.busy for pod in live)
    replicas = max(wanted, busy)  # a busy pod is never scaled away
    if replicas < len(live):
        for pod in live:
            cost = BUSY_COST if pod.busy else IDLE_COST
            if pod.deletion_cost != cost:
                draft.deletion_costs.append((pod.name, cost))
    if replicas != deployment.replicas:
        draft.scale_deployments.append((deployment.name, replicas))

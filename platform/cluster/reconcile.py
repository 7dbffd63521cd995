"""One reconcile pass of the Kubernetes executor: read what the database wants, list what the
cluster has (only what the executor owns), decide (`desired.plan`), act, and tell the database
what the pods said.

Safe at any time, or again after a crash midway: a create is of a name derived from the database
(a repeat finds it there: no duplicate), a delete is of a name nothing wants, and each report back
re-checks its attempt under the job's row lock (a stale one changes nothing). Two passes never
overlap (`one_pass_at_a_time`): each acts on a snapshot of its own.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sanacloud.platform.cluster import desired, manifests, names
from sanacloud.platform.cluster.desired import (
    AttemptFailed,
    AttemptLost,
    Feedback,
    InferenceShape,
    Launched,
    Plan,
    PodWaiting,
)
from sanacloud.platform.cluster.kube_api import AlreadyExists, Kind, KubeApi, KubeError
from sanacloud.platform.cluster.observe import observe_deployments, observe_jobs
from sanacloud.platform.db.models import Generation, GpuPool, Job, JobEvent
from sanacloud.platform.db.session import get_engine, session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.serving.generations import warm_gpus
from sanacloud.platform.serving.states import GenerationStatus
from sanacloud.platform.settings import Settings

log = logging.getLogger(__name__)
LAUNCHED, POD_WAITING = "launched", "pod_waiting"
PASS_LOCK = 0x5A4A_C10D  # the reconcile pass's advisory lock, one number for the whole database
RETRIED_STATUSES = {408, 409, 429}  # a refusal that may not hold at the next pass
LOST_PODS_BEFORE_FAILING = 3  # pods lost in a row without a new checkpoint: the next one would be too


@dataclass(frozen=True)
class Wanted:
    attempts: tuple[desired.Attempt, ...]
    serving: tuple[desired.Serving, ...]
    pools: tuple[desired.Pool, ...]
    busy_pods: frozenset[str]


def reconcile(api: KubeApi, settings: Settings) -> dict[str, int]:
    with one_pass_at_a_time():
        with session_scope() as session:
            wanted = read_database(session)
        decided = desired.plan(observe(api, settings, wanted))
        refused = act(api, decided, settings)
        record([_refused(item, refused) for item in decided.feedback])
    done = Counter({"jobs_created": len(decided.create_jobs) - len(refused), "jobs_deleted": len(decided.delete_jobs),
                    "deployments_scaled": len(decided.scale_deployments) + len(decided.apply_deployments),
                    "deployments_deleted": len(decided.delete_deployments)})
    done.update(type(item).__name__ for item in decided.feedback)
    summary = {key: count for key, count in done.items() if count}
    if summary:
        log.info("reconcile: %s", summary)
    return summary


@contextmanager
def one_pass_at_a_time() -> Iterator[None]:
    """On PostgreSQL, an advisory lock held for the whole pass: two passes at once (a tick and a
    message, or two executors during a rolling update) would each act on a snapshot the other has
    made stale, and delete a Job the other has just created for a new attempt. The second waits."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield  # SQLite: one machine, one executor
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PASS_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PASS_LOCK})
            connection.commit()


def read_database(session: Session) -> Wanted:
    rows = session.execute(
        select(Job.id, Job.attempt, Job.gpus, Job.type, Job.status, Job.cancel_requested_at, Job.preempt_requested_at,
               Job.pause_requested_at, GpuPool.name).join(GpuPool, GpuPool.id == Job.pool_id)
        .where(Job.status.in_((JobStatus.ADMITTED, JobStatus.RUNNING))).order_by(Job.id)).all()
    launched: set[tuple[str, int]] = set()
    reported: dict[tuple[str, int], str] = {}
    for job_id, kind, payload in session.execute(
            select(JobEvent.job_id, JobEvent.type, JobEvent.payload)
            .where(JobEvent.job_id.in_([row.id for row in rows]), JobEvent.type.in_((LAUNCHED, POD_WAITING)))
            .order_by(JobEvent.id)):
        if kind == LAUNCHED:
            launched.add((job_id, payload.get("attempt")))
        else:
            reported[(job_id, payload.get("attempt"))] = payload.get("message")
    attempts = tuple(desired.Attempt(
        job_id=row.id, attempt=row.attempt, pool=row.name, gpus=row.gpus, running=row.status == JobStatus.RUNNING,
        lora=row.type == "lora",
        stopping=row.status == JobStatus.RUNNING
        and (row.cancel_requested_at or row.preempt_requested_at or row.pause_requested_at) is not None,
        launched=(row.id, row.attempt) in launched, reported=reported.get((row.id, row.attempt))) for row in rows)
    pools = session.execute(select(GpuPool.id, GpuPool.name, GpuPool.gpus_per_node).order_by(GpuPool.name)).all()
    replicas: dict[tuple[str, str], int] = defaultdict(int)
    for pool in pools:
        for warm in warm_gpus(session, pool.id):
            replicas[(pool.name, warm.key)] += warm.gpus
    busy = session.scalars(select(Generation.worker).where(Generation.status == GenerationStatus.RUNNING,
                                                           Generation.worker.is_not(None)))
    return Wanted(attempts=attempts,
                  serving=tuple(desired.Serving(pool, key, count) for (pool, key), count in sorted(replicas.items())),
                  pools=tuple(desired.Pool(pool.name, pool.gpus_per_node) for pool in pools),
                  busy_pods=frozenset(worker.split(":")[0] for worker in busy if worker))


def observe(api: KubeApi, settings: Settings, wanted: Wanted) -> desired.World:
    """The cluster as the decision core sees it: only objects carrying the executor's labels."""
    pods = api.list(Kind.POD, names.OWNED)
    current_hash = {}
    for serving in wanted.serving:
        deployment = manifests.inference_deployment(InferenceShape(serving.pool, serving.key, 0), settings)
        current_hash[deployment["metadata"]["name"]] = deployment["metadata"]["annotations"][names.TEMPLATE_HASH]
    return desired.World(
        attempts=wanted.attempts, serving=wanted.serving, pools=wanted.pools,
        jobs=observe_jobs(api.list(Kind.JOB, {**names.OWNED, names.ROLE: names.TRAINING}), pods),
        services=tuple(s["metadata"]["name"] for s in api.list(Kind.SERVICE, {**names.OWNED,
                                                                               names.ROLE: names.TRAINING})),
        deployments=observe_deployments(api.list(Kind.DEPLOYMENT, {**names.OWNED, names.ROLE: names.SERVING}), pods,
                                        busy=set(wanted.busy_pods), current_hash=current_hash),
        shared_work=bool(settings.kubernetes_shared_claim))


def act(api: KubeApi, decided: Plan, settings: Settings) -> dict[str, KubeError]:
    """Make the calls, each on its own: one refused does not stop the others (the next pass tries again).
    Returns the Jobs the API server refused to create, with its reason."""
    refused: dict[str, KubeError] = {}
    for shape in decided.create_services:  # before the Job: its pods resolve each other from the start
        _call(api.create, Kind.SERVICE, manifests.rendezvous_service(shape))
    for shape in decided.create_jobs:
        error = _call(api.create, Kind.JOB, manifests.training_job(shape, settings))
        if error is not None:
            refused[shape.name] = error
    for name in decided.delete_jobs:  # its pods get their own grace (the template's) to checkpoint on SIGTERM
        _call(api.delete, Kind.JOB, name)
    for name in decided.delete_services:
        _call(api.delete, Kind.SERVICE, name)
    for pod, cost in decided.deletion_costs:  # before the replicas fall: idle pods go first
        _call(api.annotate, Kind.POD, pod, {names.DELETION_COST: str(cost)})
    for inference in decided.apply_deployments:
        _call(api.apply, Kind.DEPLOYMENT, manifests.inference_deployment(inference, settings))
    for name, replicas in decided.scale_deployments:
        _call(api.scale, Kind.DEPLOYMENT, name, replicas)
    for name in decided.delete_deployments:
        _call(api.delete, Kind.DEPLOYMENT, name)
    return refused


def _call(method: Callable[..., object], *args: object, **kwargs: object) -> KubeError | None:
    """None when done (or already so: a create that finds its object), else the API server's refusal."""
    try:
        method(*args, **kwargs)
    except AlreadyExists:
        return None
    except KubeError as error:
        log.warning("kubernetes refused %s %s: %s", getattr(method, "__name__", method), args[:2], error)
        return error
    return None


def _refused(item: Feedback, refused: dict[str, KubeError]) -> Feedback:
    """A Job the API server would not create is not launched. Refused as invalid or forbidden (a quota,
    a policy), it never will be: the job fails, saying why; else the user reads why, and the next pass
    retries."""
    if not isinstance(item, Launched) or item.name not in refused:
        return item
    error = refused[item.name]
    if 400 <= error.status < 500 and error.status not in RETRIED_STATUSES:
        return AttemptFailed(item.job_id, item.attempt, f"the cluster refused its Kubernetes Job: {error}")
    return PodWaiting(item.job_id, item.attempt, f"could not create its Kubernetes Job: {error}")


def record(feedback: list[Feedback]) -> None:
    for item in feedback:
        with session_scope() as session:
            if isinstance(item, Launched):
                lifecycle.note_attempt(session, job_id=item.job_id, attempt=item.attempt, type=LAUNCHED,
                                       payload={"kubernetes_job": item.name,
                                                "message": f"started as Kubernetes Job {item.name}"})
            elif isinstance(item, PodWaiting):
                lifecycle.note_attempt(session, job_id=item.job_id, attempt=item.attempt, type=POD_WAITING,
                                       payload={"message": item.message}, waiting=item.message)
            elif isinstance(item, AttemptFailed):
                lifecycle.fail_attempt(session, job_id=item.job_id, attempt=item.attempt, reason=item.reason)
            elif isinstance(item, AttemptLost):
                lifecycle.requeue_attempt(session, job_id=item.job_id, attempt=item.attempt, reason=item.reason,
                                          give_up_after=LOST_PODS_BEFORE_FAILING)

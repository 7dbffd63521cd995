"""A job's life after its submission: a user's cancel, pause, resume and extension; on a worker,
claim, heartbeats, events and checkpoints, finish; and the reaper.

A running attempt that must stop with its state kept (a preemption, a pause, an extension to more
steps) is told so by its heartbeat; its trainer checkpoints, and `finish` reads the job's row to
decide where the job goes: paused when a pause was asked, else back to the queue.

Each function is one short transaction that locks the job's row. A worker holds (job id,
attempt); whenever the row says otherwise (a newer attempt, another status) the worker's view is
stale and it stops: this is what makes redelivered or duplicated tasks harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform import tenant_caps
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Checkpoint, Dataset, DatasetFile, GpuPool, Job, JobEvent, Model
from sanacloud.platform.db.scoped import locked
from sanacloud.platform.errors import Conflict, InvalidInput, NotFound
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import TERMINAL, JobStatus
from sanacloud.platform.scheduler.admission import lock_pool, schedule_pool
from sanacloud.platform.scheduler.usage import bill, start_billing, stop_billing
from sanacloud.platform.webhooks.events import EventType, emit


@dataclass(frozen=True)
class DatasetImage:
    name: str
    object_key: str
    caption: str
    sha256: str
    # Every caption a captioning job wrote (and the user's, once scored): (source, text, score).
    scored: tuple[tuple[str, str, float | None], ...] = ()


@dataclass(frozen=True)
class RunContext:
    """Everything a worker needs to run one attempt, read when it claims the job."""

    job_id: str
    attempt: int
    tenant_id: str
    type: str
    gpus: int
    gpu_type: str
    hyperparameters: dict[str, Any]
    dataset_id: str
    images: tuple[DatasetImage, ...]
    class_images: tuple[DatasetImage, ...]  # prior preservation's uploaded class images, if any
    base_model_id: str
    base_family: str
    base_uri: str
    resume_from: tuple[int, str] | None  # (step, object prefix) of the newest checkpoint
    # Object prefix of the checkpoint whose weights a new job starts from (POST /v1/jobs
    # from_checkpoint); None once the job has a checkpoint of its own to resume from.
    init_from: str | None = None

    @property
    def steps(self) -> int | None:
        """The steps this attempt trains to (None for a job without steps: captioning)."""
        steps = self.hyperparameters.get("steps")
        return steps if isinstance(steps, int) else None


class Signal(StrEnum):
    CONTINUE = "continue"
    EXTEND = "extend"  # the job's step count grew: checkpoint, and the next attempt trains on to it
    PREEMPT = "preempt"
    PAUSE = "pause"
    CANCEL = "cancel"
    LOST = "lost"  # the job is no longer this worker's (reaped, or a newer attempt runs)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The trainer checkpointed and stopped early; `finish` decides from the job's row where it goes.
    PREEMPTED = "preempted"
    PAUSED = "paused"
    EXTENDED = "extended"


CHECKPOINTED_STOPS = frozenset({Outcome.PREEMPTED, Outcome.PAUSED, Outcome.EXTENDED})
# The signals whose trainer checkpoints before it stops, and what its attempt then reports.
CHECKPOINT_FIRST = {Signal.EXTEND: Outcome.EXTENDED, Signal.PREEMPT: Outcome.PREEMPTED, Signal.PAUSE: Outcome.PAUSED}


CANCEL_AT_ONCE = frozenset({JobStatus.VALIDATING, JobStatus.QUEUED, JobStatus.ADMITTED, JobStatus.PAUSED,
                            JobStatus.PREEMPTED})


def cancel(session: Session, *, job_id: str) -> Job:
    """Cancel at once when no worker runs the job (an admitted job's GPUs go to whoever waits); a
    running job is asked to stop, and its worker confirms (`finish`, or `requeue_lost`)."""
    job = _locked_with_pool(session, job_id)
    if job.status in TERMINAL:
        raise Conflict(f"job {job.id!r} already {job.status}; nothing to cancel")
    if job.status in CANCEL_AT_ONCE:
        held_gpus = job.status == JobStatus.ADMITTED
        transition(session, job, JobStatus.CANCELLED, reason="cancelled by user")
        if held_gpus:
            schedule_pool(session, job.pool_id)
    elif job.cancel_requested_at is None:
        job.cancel_requested_at = utcnow()
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="cancel_requested", payload={}))
    return job


PAUSE_AT_ONCE = frozenset({JobStatus.QUEUED, JobStatus.ADMITTED})
EXTENSIBLE = frozenset({JobStatus.QUEUED, JobStatus.ADMITTED, JobStatus.RUNNING, JobStatus.PAUSED,
                        JobStatus.SUCCEEDED})


def pause(session: Session, *, job_id: str) -> Job:
    """Pause at once when no worker runs the job (an admitted job's GPUs go to whoever waits); a
    running job is asked to checkpoint, and is paused when its worker has (`finish`)."""
    job = _locked_with_pool(session, job_id)
    if job.status in PAUSE_AT_ONCE:
        held_gpus = job.status == JobStatus.ADMITTED
        transition(session, job, JobStatus.PAUSED, reason="paused by user", details={"step": job.step})
        if held_gpus:
            schedule_pool(session, job.pool_id)
    elif job.status == JobStatus.RUNNING and job.cancel_requested_at is None:
        if job.pause_requested_at is None:
            job.pause_requested_at = utcnow()
            session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="pause_requested", payload={}))
    else:
        being = "being cancelled" if job.status == JobStatus.RUNNING else str(job.status)
        raise Conflict(f"job {job.id!r} is {being}; only a queued, admitted or running job can be paused")
    return job


def resume(session: Session, *, job_id: str) -> Job:
    """A paused job goes back to the queue and, admitted, continues from its newest checkpoint. A
    running job whose pause is still pending (its trainer checkpointing) just keeps its place."""
    job = _locked_with_pool(session, job_id)
    if job.status == JobStatus.RUNNING and job.pause_requested_at is not None:
        job.pause_requested_at = None
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="pause_withdrawn", payload={}))
        return job
    if job.status != JobStatus.PAUSED:
        raise Conflict(f"job {job.id!r} is {job.status}; only a paused job can be resumed")
    transition(session, job, JobStatus.QUEUED, reason="resumed by user", details={"step": job.step})
    schedule_pool(session, job.pool_id)
    return job


def extend(session: Session, *, job_id: str, steps: int) -> Job:
    """Train to `steps` in all. A running attempt checkpoints and the job is queued again at once
    to train on (`Signal.EXTEND`); a succeeded job goes back to the queue; the others just run
    longer when they run. The LR schedule is the one a job of `steps` would have had
    (model/train/engine.py `lr_lambda` over the new total), from the step the job has reached."""
    job = _locked_with_pool(session, job_id)
    current = int(job.hyperparameters.get("steps", 0))
    if job.type == auto_captions.JOB_TYPE:
        raise InvalidInput("a captioning job has no training steps to extend")
    if job.status not in EXTENSIBLE:
        raise Conflict(f"job {job.id!r} is {job.status}; only a queued, admitted, running, paused or succeeded "
                       "job can be extended")
    if steps <= current:
        raise InvalidInput(f"steps must be larger than the job's {current} to extend it (it is at step {job.step})")
    if job.status == JobStatus.SUCCEEDED:
        if job.dataset_id is None:
            raise Conflict(f"job {job.id!r} cannot train on: its dataset was deleted; start a new job from one of "
                           "its checkpoints (from_checkpoint) on another dataset")
        tenant_caps.ensure_room(session, tenant_id=job.tenant_id, kind=tenant_caps.Kind.ACTIVE_JOBS)
    job.hyperparameters = {**job.hyperparameters, "steps": steps}
    session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type="extended",
                         payload={"from": current, "to": steps, "step": job.step}))
    if job.status == JobStatus.SUCCEEDED:
        job.finished_at = None
        transition(session, job, JobStatus.QUEUED, reason=f"extended to {steps} steps",
                   details={"step": job.step})
        schedule_pool(session, job.pool_id)
    return job


def _locked_with_pool(session: Session, job_id: str) -> Job:
    """The job, locked after its pool (the scheduler's lock order); NotFound if gone."""
    pool_id = session.scalar(select(Job.pool_id).where(Job.id == job_id))
    if pool_id is not None:
        lock_pool(session, pool_id)
    job = locked(session, Job, job_id)
    if job is None:
        raise NotFound.of("job", job_id)
    return job


def _current(session: Session, job_id: str, attempt: int) -> Job | None:
    job = locked(session, Job, job_id)
    return job if job is not None and job.attempt == attempt and job.status == JobStatus.RUNNING else None


def claim(session: Session, *, job_id: str, attempt: int, worker: str) -> RunContext | None:
    """Start the attempt (admitted → running); None when the task is stale or the job gone."""
    job = locked(session, Job, job_id)
    if job is None or job.attempt != attempt or job.status != JobStatus.ADMITTED:
        return None
    if job.dataset_id is None:  # its GPUs are given out again at the next tick
        job.error = "its dataset was deleted before it could start"
        transition(session, job, JobStatus.FAILED, reason=job.error)
        return None
    now = utcnow()
    transition(session, job, JobStatus.RUNNING, reason="started", details={"attempt": attempt, "worker": worker})
    job.worker, job.heartbeat_at = worker, now
    start_billing(session, job, now)
    dataset = session.get_one(Dataset, job.dataset_id)
    base = session.get_one(Model, job.base_model_id)
    pool = session.get_one(GpuPool, job.pool_id)
    files = session.scalars(select(DatasetFile).where(DatasetFile.dataset_id == dataset.id)
                            .order_by(DatasetFile.name)).all()
    scored = auto_captions.by_file(session, dataset_id=dataset.id)
    classes = class_dataset_id(job.requested)
    class_files = session.scalars(select(DatasetFile).where(DatasetFile.dataset_id == classes,
                                                            DatasetFile.tenant_id == job.tenant_id)
                                  .order_by(DatasetFile.name)).all() if classes else []
    newest = session.scalar(select(Checkpoint).where(Checkpoint.job_id == job.id)
                            .order_by(Checkpoint.step.desc()).limit(1))
    init_from = None
    if newest is None and job.requested.get("from_checkpoint"):
        if job.from_checkpoint_id is None:
            job.error = "the checkpoint it starts from was deleted before it could start"
            transition(session, job, JobStatus.FAILED, reason=job.error)
            return None
        init_from = session.get_one(Checkpoint, job.from_checkpoint_id).object_prefix
    job.step = newest.step if newest else 0  # where this attempt starts
    return RunContext(
        job_id=job.id, attempt=attempt, tenant_id=job.tenant_id, type=job.type, gpus=job.gpus,
        gpu_type=pool.gpu_type, hyperparameters=dict(job.hyperparameters), dataset_id=dataset.id,
        images=tuple(DatasetImage(f.name, f.object_key, f.caption, f.sha256,
                                  tuple((c.source, c.text, c.score) for c in scored.get(f.id, ()))) for f in files),
        class_images=tuple(DatasetImage(f.name, f.object_key, f.caption, f.sha256) for f in class_files),
        base_model_id=base.id, base_family=base.family, base_uri=base.uri,
        resume_from=(newest.step, newest.object_prefix) if newest else None, init_from=init_from)


def class_dataset_id(requested: dict[str, Any]) -> str | None:
    """The dataset of class images a job's request names for prior preservation, if any."""
    prior = (requested.get("hyperparameters") or {}).get("prior") or {}
    found = prior.get("class_dataset_id")
    return found if isinstance(found, str) else None


def heartbeat(session: Session, *, job_id: str, attempt: int, step: int, steps: int | None) -> Signal:
    """Proof of life from the worker at `step` of the `steps` its attempt trains to (None: a job
    without steps); answers whether and how it must stop."""
    job = _current(session, job_id, attempt)
    if job is None:
        return Signal.LOST
    now = utcnow()
    job.heartbeat_at = now
    job.step = max(job.step, step)
    bill(session, job, now)
    if job.cancel_requested_at is not None:
        return Signal.CANCEL
    if job.pause_requested_at is not None:
        return Signal.PAUSE
    if job.preempt_requested_at is not None:
        return Signal.PREEMPT
    if steps is not None and job.hyperparameters.get("steps") != steps:
        return Signal.EXTEND
    return Signal.CONTINUE


# The events that advance a job's `step`, and the field saying how far: a training job's steps, a
# captioning job's images done.
PROGRESS_FIELD = {"step": "step", "checkpoint": "step", "progress": "done"}


def record_events(session: Session, *, job_id: str, attempt: int, events: list[dict[str, Any]]) -> bool:
    """Store the trainer's events (`type` plus payload); False when the attempt is no longer current."""
    job = _current(session, job_id, attempt)
    if job is None:
        return False
    for event in events:
        payload = {k: v for k, v in event.items() if k != "type"}
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type=str(event["type"])[:32], payload=payload))
        reached = event.get(PROGRESS_FIELD.get(str(event["type"]), ""))
        if isinstance(reached, int):
            job.step = max(job.step, reached)
    return True


def record_checkpoint(session: Session, *, job_id: str, attempt: int, step: int, object_prefix: str,
                      metrics: dict[str, Any], sample_keys: list[str]) -> Checkpoint | None:
    """One row per (job, step): a checkpoint uploaded again after a resume replaces the old row's data."""
    job = _current(session, job_id, attempt)
    if job is None:
        return None
    row = session.scalar(select(Checkpoint).where(Checkpoint.job_id == job.id, Checkpoint.step == step))
    announce = row is None  # a checkpoint uploaded again after a resume is not new
    if row is None:
        row = Checkpoint(job_id=job.id, tenant_id=job.tenant_id, step=step, object_prefix=object_prefix)
        session.add(row)
    row.object_prefix, row.metrics, row.sample_keys = object_prefix, metrics, sample_keys
    session.flush()
    if announce:
        emit(session, tenant_id=job.tenant_id, type=EventType.CHECKPOINT_CREATED,
             data={"checkpoint_id": row.id, "job_id": job.id, "job_name": job.name, "step": step,
                   "metrics": metrics, "samples": len(sample_keys)})
    return row


def finish(session: Session, *, job_id: str, attempt: int, outcome: Outcome, error: str | None = None,
           steps: int | None = None) -> bool:
    """End the attempt; a preempted job goes back to the queue, and so does one that succeeded at the
    `steps` its attempt trained to when it was extended meanwhile. Then the pool admits what now fits."""
    pool_id = session.scalar(select(Job.pool_id).where(Job.id == job_id))
    if pool_id is None:
        return False
    lock_pool(session, pool_id)  # before the job: the scheduler's lock order
    job = _current(session, job_id, attempt)
    if job is None:
        return False
    stop_billing(session, job, utcnow())
    paused, preempted = job.pause_requested_at is not None, job.preempt_requested_at is not None
    job.worker = job.heartbeat_at = job.preempt_requested_at = job.pause_requested_at = None
    total = job.hyperparameters.get("steps")
    if outcome in CHECKPOINTED_STOPS and paused:
        transition(session, job, JobStatus.PAUSED, reason="paused by user", details={"step": job.step})
    elif (outcome is Outcome.EXTENDED and not preempted) or (outcome is Outcome.SUCCEEDED and total != steps
                                                              and steps is not None):
        transition(session, job, JobStatus.QUEUED, reason=f"extended to {total} steps; continues from its "
                   "last checkpoint when admitted", details={"step": job.step})
    elif outcome in CHECKPOINTED_STOPS:
        transition(session, job, JobStatus.PREEMPTED, reason="checkpointed to make room")
        transition(session, job, JobStatus.QUEUED, reason="resumes from its last checkpoint when admitted")
    else:
        if error:
            job.error = error[-4000:]
        transition(session, job, JobStatus(outcome), reason=_REASONS[outcome])
    schedule_pool(session, job.pool_id)
    return True


_REASONS = {Outcome.SUCCEEDED: "training finished", Outcome.FAILED: "the trainer failed",
            Outcome.CANCELLED: "cancelled by user"}


def requeue_lost(session: Session, *, timeout_s: float) -> list[str]:
    """Running jobs whose worker went silent go back to the queue (or end, if cancel was asked)."""
    deadline = utcnow() - timedelta(seconds=timeout_s)
    stale = session.scalars(select(Job.id).where(Job.status == JobStatus.RUNNING, Job.heartbeat_at < deadline)).all()
    requeued = []
    for job_id in stale:
        job = locked(session, Job, job_id)
        if job is None or job.status != JobStatus.RUNNING or job.heartbeat_at is None or job.heartbeat_at >= deadline:
            continue
        if _requeue(session, job, "worker lost"):
            requeued.append(job.id)
    return requeued


def requeue_attempt(session: Session, *, job_id: str, attempt: int, reason: str, give_up_after: int) -> bool:
    """The attempt's pod ended without finishing it (evicted, failed, gone): back to the queue, to
    resume from its last checkpoint, as a lost worker's; then the pool admits what fits. The
    `give_up_after`-th pod lost in a row without a new checkpoint fails the job instead: the next
    would be lost too (a crash on start, memory it never has). False when the attempt was not
    current any more (it finished meanwhile), or the job failed."""
    job = _locked_attempt(session, job_id, attempt, (JobStatus.ADMITTED, JobStatus.RUNNING))
    if job is None:
        return False
    lost = _pods_lost_since_progress(session, job) + 1
    if lost >= give_up_after:
        _fail(session, job, f"its pod was lost {lost} times in a row without progress; the last: {reason}")
        requeued = False
    else:
        requeued = _requeue(session, job, reason, lost_pod=True)
    schedule_pool(session, job.pool_id)
    return requeued


def fail_attempt(session: Session, *, job_id: str, attempt: int, reason: str) -> bool:
    """The attempt cannot run, and trying again will not help (its image cannot be pulled)."""
    job = _locked_attempt(session, job_id, attempt, (JobStatus.ADMITTED, JobStatus.RUNNING))
    if job is None:
        return False
    _fail(session, job, reason)
    schedule_pool(session, job.pool_id)
    return True


def _fail(session: Session, job: Job, reason: str) -> None:
    if job.status == JobStatus.RUNNING:
        stop_billing(session, job, job.heartbeat_at or utcnow())
    job.worker = job.heartbeat_at = job.preempt_requested_at = job.pause_requested_at = None
    job.error = reason[-4000:]
    transition(session, job, JobStatus.FAILED, reason=reason)


def _pods_lost_since_progress(session: Session, job: Job) -> int:
    """Requeues for a lost pod since the job's newest checkpoint (a captioning job's: its newest
    progress event, since it stores each image's captions as it goes)."""
    since = session.scalar(select(JobEvent.created_at).where(JobEvent.job_id == job.id, JobEvent.type == "progress")
                           .order_by(JobEvent.created_at.desc()).limit(1)) if job.type == auto_captions.JOB_TYPE \
        else session.scalar(select(Checkpoint.created_at).where(Checkpoint.job_id == job.id)
                            .order_by(Checkpoint.created_at.desc()).limit(1))
    query = select(JobEvent.payload).where(JobEvent.job_id == job.id, JobEvent.type == "status")
    if since is not None:
        query = query.where(JobEvent.created_at > since)
    return sum(1 for payload in session.scalars(query) if payload.get("lost_pod"))


def note_attempt(session: Session, *, job_id: str, attempt: int, type: str, payload: dict[str, Any],
                 waiting: str | None = None) -> bool:
    """An event about the current attempt from outside its worker (the executor's word on its pod),
    recorded once per attempt and payload; `waiting`: why an admitted job has not started, shown as
    its wait reason until it runs."""
    job = _locked_attempt(session, job_id, attempt, (JobStatus.ADMITTED, JobStatus.RUNNING))
    if job is None:
        return False
    payload = {"attempt": attempt, **payload}
    said = session.scalars(select(JobEvent.payload).where(JobEvent.job_id == job.id, JobEvent.type == type))
    if payload not in said:  # two reconcile passes at once report the same
        session.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, type=type, payload=payload))
    if waiting is not None and job.status == JobStatus.ADMITTED:
        job.wait_reason = waiting
    return True


def _locked_attempt(session: Session, job_id: str, attempt: int, statuses: tuple[JobStatus, ...]) -> Job | None:
    """The job, its pool locked first (the scheduler's lock order), if `attempt` is current in one of `statuses`."""
    pool_id = session.scalar(select(Job.pool_id).where(Job.id == job_id))
    if pool_id is None:
        return None
    lock_pool(session, pool_id)
    job = locked(session, Job, job_id)
    return job if job is not None and job.attempt == attempt and job.status in statuses else None


def _requeue(session: Session, job: Job, why: str, *, lost_pod: bool = False) -> bool:
    """Back to the queue (True), or cancelled or paused if that was asked (False)."""
    details: dict[str, Any] = {"worker": job.worker}
    if lost_pod:
        details["lost_pod"] = True
    if job.status == JobStatus.RUNNING:
        last_seen = job.heartbeat_at or utcnow()
        stop_billing(session, job, last_seen)  # bill up to the last sign of life
        details["last_heartbeat"] = last_seen.isoformat()
    paused = job.pause_requested_at is not None
    job.worker = job.heartbeat_at = job.preempt_requested_at = job.pause_requested_at = None
    if job.cancel_requested_at is not None:
        transition(session, job, JobStatus.CANCELLED, reason=f"cancelled; {why}", details=details)
        return False
    if paused:  # what the user asked for, even though its last checkpoint may be older than the pause
        transition(session, job, JobStatus.PAUSED, reason=f"paused by user; {why}", details=details)
        return False
    transition(session, job, JobStatus.QUEUED, reason=f"{why}; resumes from its last checkpoint", details=details)
    return True

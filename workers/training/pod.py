"""A training attempt's pod (`sanacloud attempt JOB ATTEMPT`), as the Kubernetes executor starts it.

Node 0 runs the attempt exactly as a local worker does (claim, dataset, trainer, events,
heartbeats, checkpoints, finish). In a run across several nodes, node 0 claims only once every
other node's pod runs, and each other node waits until node 0 has written the trainer's spec into
the shared working folder, then runs its share of the trainer's ranks under torchrun, until the
trainer ends or the attempt stops being current.

SIGTERM (the Job deleted for a cancel or a preemption, or the node drained) asks for a checkpoint
first, as a preemption does: the supervisor stops the trainer with the stop grace, uploads what it
wrote and records the end, within the pod's termination grace. A cancel the database holds still
wins: the next heartbeat learns it and stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from sqlalchemy import select

from sanacloud.platform.db.models import Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.lifecycle import Signal
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.settings import Settings, get_settings
from sanacloud.workers.training.attempt import run_here
from sanacloud.workers.training.child import Rendezvous, TrainerProcess
from sanacloud.workers.training.stopping import StopRequest
from sanacloud.workers.training.workspace import attempt_dir

log = logging.getLogger(__name__)


def main(job_id: str, attempt: int, *, rendezvous: Rendezvous | None) -> int:
    stop = StopRequest()
    terminated = threading.Event()

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        # A thread, not the handler: the handler runs on the main thread, which may hold the stop's lock.
        terminated.set()
        threading.Thread(target=stop.learn, args=(Signal.PREEMPT,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    settings = get_settings()
    if rendezvous is not None and rendezvous.node_rank > 0:
        return follow(job_id, attempt, rendezvous, settings, terminated)
    if rendezvous is not None and not _all_nodes_ready(job_id, attempt, rendezvous, settings, terminated):
        return 0
    if terminated.is_set():  # the Job was deleted before it started: claim nothing
        return 0
    outcome = run_here(job_id, attempt, stop=stop, rendezvous=rendezvous)
    log.info("pod of job %s attempt %d: %s", job_id, attempt, outcome or "nothing to run")
    return 0


def node_rank() -> int:
    """An Indexed Job's pod learns its index from JOB_COMPLETION_INDEX."""
    return int(os.environ.get("JOB_COMPLETION_INDEX", "0"))


def _ready_marker(settings: Settings, job_id: str, attempt: int, rank: int) -> Path:
    """Outside the attempt's folder, which node 0 empties when it prepares the run."""
    return settings.effective_work_dir / "rendezvous" / job_id / f"attempt-{attempt}" / f"node-{rank}"


def _all_nodes_ready(job_id: str, attempt: int, rendezvous: Rendezvous, settings: Settings,
                     terminated: threading.Event) -> bool:
    """Node 0 claims the attempt only once every other node's pod runs (each leaves a mark in the shared
    folder): pods that wait for a GPU node wait unclaimed and unbilled, and torchrun's rendezvous, which
    gives up after minutes, starts with everyone there. False when the attempt stopped being wanted."""
    marks = [_ready_marker(settings, job_id, attempt, rank) for rank in range(1, rendezvous.nodes)]
    while not all(mark.exists() for mark in marks):
        if terminated.is_set() or not _current(job_id, attempt, JobStatus.ADMITTED):
            return False
        time.sleep(min(settings.heartbeat_s, 2.0))
    return True


def follow(job_id: str, attempt: int, rendezvous: Rendezvous, settings: Settings, terminated: threading.Event) -> int:
    """Node 1..n-1: this node's ranks, on the spec node 0 wrote; 0 when there was nothing (more) to do."""
    mark = _ready_marker(settings, job_id, attempt, rendezvous.node_rank)
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()
    folder = attempt_dir(settings.effective_work_dir, job_id, attempt)
    spec = folder / "spec.json"
    while not spec.exists():  # node 0 downloads the dataset and the base model first, however long that takes
        if terminated.is_set() or not _current(job_id, attempt, JobStatus.ADMITTED, JobStatus.RUNNING):
            return 0
        time.sleep(min(settings.heartbeat_s, 2.0))
    trainer = TrainerProcess.for_spec(spec, processes=_gpus_here(job_id) // rendezvous.nodes, rendezvous=rendezvous,
                                      stop_grace_s=settings.stop_grace_s,
                                      stderr_path=folder / f"trainer-node{rendezvous.node_rank}.log")
    ended = False
    while trainer.running():
        if terminated.is_set():
            trainer.stop(settings.stop_grace_s)  # the ranks checkpoint with node 0's, as one world
        elif ended or not _current(job_id, attempt, JobStatus.RUNNING):
            # Node 0 has recorded the end (or the attempt was lost): these ranks end too, by themselves
            # if they are just finishing, else within the stop grace.
            ended = True
            trainer.stop(settings.stop_grace_s)
        time.sleep(min(settings.heartbeat_s, 1.0))
    code = trainer.wait()
    return 0 if ended else code  # the attempt's outcome is node 0's to record


def _current(job_id: str, attempt: int, *statuses: JobStatus) -> bool:
    with session_scope() as session:
        row = session.execute(select(Job.attempt, Job.status).where(Job.id == job_id)).one_or_none()
    return row is not None and row.attempt == attempt and row.status in statuses


def _gpus_here(job_id: str) -> int:
    with session_scope() as session:
        return int(session.scalar(select(Job.gpus).where(Job.id == job_id)) or 0)

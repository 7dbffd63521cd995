"""One training attempt on this worker: prepare, run the trainer, relay what it does, finish. A
captioning job's attempt is the same with the captioner as the child (captioning.py).

While the trainer runs, its events go into `job_events` (in batches, about once a second) and
each checkpoint is uploaded and recorded as it appears. From claim to finish, a heartbeat thread
reports every `heartbeat_s` (also while the dataset downloads or a checkpoint uploads): it proves
the worker alive and brings back the user's cancel, pause or extension, or the scheduler's
preemption (stopping.py says how each stops the trainer).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.jobs.lifecycle import CHECKPOINT_FIRST, Outcome, RunContext, Signal
from sanacloud.platform.settings import Settings
from sanacloud.platform.storage import ObjectStore
from sanacloud.workers.training import captioning
from sanacloud.workers.training.child import Rendezvous, TrainerProcess
from sanacloud.workers.training.stopping import AT_ONCE, StopRequest
from sanacloud.workers.training.trainer_spec import trainer_spec
from sanacloud.workers.training.workspace import TransferAborted, Workspace

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 1.0
LOCAL_FIELDS = ("path", "files", "samples", "initialized_from")  # worker-local paths: meaningless to the user


@dataclass
class Progress:
    step: int = 0
    done: bool = False
    error: str | None = None
    checkpointed_stop: bool = False  # the trainer stopped early on SIGTERM, after a checkpoint
    stop: StopRequest = field(default_factory=StopRequest)
    pending: list[dict[str, Any]] = field(default_factory=list)
    captions: list[dict[str, Any]] = field(default_factory=list)  # a captioning job's, stored at each flush


def run_attempt(context: RunContext, *, store: ObjectStore, settings: Settings, stop: StopRequest | None = None,
                rendezvous: Rendezvous | None = None) -> Outcome | None:
    """Run the attempt to its end; returns how it ended (None when the job stopped being ours).
    `stop`: shared with whoever else may stop it (a pod's SIGTERM); `rendezvous`: this is node 0 of several."""
    workspace = Workspace(settings.effective_work_dir, context, store)
    progress = Progress(step=context.resume_from[0] if context.resume_from else 0, stop=stop or StopRequest())
    heartbeat = Heartbeat(context, progress, settings.heartbeat_s)
    try:
        try:
            spec_path = _prepare(context, workspace, progress.stop)
        except TransferAborted:
            return _stopped_at_once(context, progress)
        except Exception as error:  # a dataset or model that cannot be read fails the job, with the reason
            log.exception("job %s: preparing the run failed", context.job_id)
            return _finish(context, Outcome.FAILED, f"could not prepare the run: {type(error).__name__}: {error}")
        processes = context.gpus if context.type == "full" else 1  # LoRA runs train on one device
        if rendezvous is not None:
            processes //= rendezvous.nodes
        module = captioning.MODULE if context.type == auto_captions.JOB_TYPE else "sanacloud.model.train"
        trainer = TrainerProcess.for_spec(spec_path, processes=processes, rendezvous=rendezvous,
                                          stop_grace_s=settings.stop_grace_s, module=module,
                                          stderr_path=workspace.attempt_dir / "trainer.log")
        progress.stop.attach(trainer)
        try:
            supervise(context, trainer, workspace, settings, progress)
        except BaseException:  # e.g. the database gone for good: no trainer runs unsupervised
            trainer.kill()
            trainer.wait()
            raise
        code = trainer.wait()
        heartbeat.stop()
        flush_events(context, progress)
        if progress.stop.now.is_set():  # also when the trainer had just finished: a cancel asked before the end wins
            return _stopped_at_once(context, progress)
        if progress.done and code == 0:
            return _finish(context, Outcome.SUCCEEDED)
        if progress.error is not None:  # e.g. it diverged, also while asked to checkpoint: its error event says why
            return _finish(context, Outcome.FAILED, progress.error, announced=True)
        if progress.stop.signal in CHECKPOINT_FIRST:  # it checkpointed, as asked
            return _finish(context, CHECKPOINT_FIRST[progress.stop.signal])
        if progress.checkpointed_stop:
            # Stopped by a SIGTERM of its own (another node's ranks were told to stop, and the world
            # stopped with them): it checkpointed, so it resumes.
            return _finish(context, Outcome.PREEMPTED)
        return _finish(context, Outcome.FAILED, f"the trainer exited with code {code}: {trainer.stderr_tail()}")
    finally:
        heartbeat.stop()
        shutil.rmtree(workspace.attempt_dir, ignore_errors=True)


def _prepare(context: RunContext, workspace: Workspace, stop: StopRequest) -> Path:
    """The attempt's files and the trainer's spec (its path); TransferAborted once cancelled or lost."""
    workspace.prepare(abort=stop.now)
    spec_path = workspace.attempt_dir / "spec.json"
    if context.type == auto_captions.JOB_TYPE:
        captioning.write_caption_spec(context, workspace, spec_path)
    else:
        spec_path.write_text(trainer_spec(context, workspace).model_dump_json(indent=2))
    if stop.now.is_set():  # came during a step that cannot be aborted (e.g. fetching the base model)
        raise TransferAborted("stopped while preparing the run")
    return spec_path


class Heartbeat:
    """Beats on its own thread until stopped; a cancel, preemption or loss lands in `progress.stop`."""

    def __init__(self, context: RunContext, progress: Progress, every_s: float) -> None:
        self.context, self.progress, self.every_s = context, progress, every_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{context.job_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self.every_s):
            _beat(self.context, self.progress)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


def supervise(context: RunContext, trainer: TrainerProcess, workspace: Workspace, settings: Settings,
              progress: Progress) -> None:
    """Relay the trainer's events until its stdout closes, and stop it when asked."""
    last_flush = time.monotonic()
    for event in trainer.events(poll_s=0.5):
        if event is not None:
            _note(progress, event)
            if event["type"] == "checkpoint" and not progress.stop.now.is_set():
                flush_events(context, progress)
                _upload(context, workspace, event, progress)
        now = time.monotonic()
        if (progress.pending or progress.captions) and now - last_flush >= FLUSH_EVERY_S:
            flush_events(context, progress)
            last_flush = now
        if progress.stop.signal in CHECKPOINT_FIRST:  # a cancel or loss has killed the trainer already
            trainer.stop(settings.stop_grace_s)


def _note(progress: Progress, event: dict[str, Any]) -> None:
    kind = event["type"]
    if kind == "captions":  # a captioning job's result for one image: stored, not an event
        progress.captions.append(event)
        return
    if kind == "step":
        progress.step = int(event["step"])
    elif kind == "progress":
        progress.step = int(event["done"])
    elif kind == "done":
        progress.done = True
    elif kind == "error":
        progress.error = str(event.get("message", "unknown error"))
    elif kind == "stopped" and event.get("checkpointed"):
        progress.checkpointed_stop = True
    if kind != "checkpoint":  # recorded once uploaded, with the checkpoint's id
        progress.pending.append({k: v for k, v in event.items() if k not in LOCAL_FIELDS})


def _upload(context: RunContext, workspace: Workspace, event: dict[str, Any], progress: Progress) -> None:
    step = int(event["step"])
    try:
        prefix, samples = workspace.upload_checkpoint(Path(event["path"]), step, abort=progress.stop.now)
    except TransferAborted:
        return
    with session_scope() as session:
        # Asked under the job's row lock: a cancel committed before is seen here, a later one finds it recorded.
        signal = lifecycle.heartbeat(session, job_id=context.job_id, attempt=context.attempt, step=progress.step,
                                     steps=context.steps)
        row = None if signal in AT_ONCE else lifecycle.record_checkpoint(
            session, job_id=context.job_id, attempt=context.attempt, step=step, object_prefix=prefix,
            metrics={"loss": event.get("loss")}, sample_keys=samples)
        checkpoint_id = row.id if row else None
    progress.stop.learn(signal)
    if checkpoint_id is None:  # only when cancelled or lost: keep no unrecorded copy
        workspace.discard_checkpoint(step)
        return
    progress.pending.append({"type": "checkpoint", "step": step, "loss": event.get("loss"),
                             "checkpoint_id": checkpoint_id, "sample_keys": samples})
    flush_events(context, progress)


def flush_events(context: RunContext, progress: Progress) -> None:
    if not (progress.pending or progress.captions) or progress.stop.lost:
        return
    with session_scope() as session:
        current = lifecycle.record_events(session, job_id=context.job_id, attempt=context.attempt,
                                          events=progress.pending)
        if current and progress.captions:
            captioning.record(context, progress.captions, session)
    progress.pending, progress.captions = [], []
    if not current:
        progress.stop.learn(Signal.LOST)


def _beat(context: RunContext, progress: Progress) -> None:
    try:
        with session_scope() as session:
            signal = lifecycle.heartbeat(session, job_id=context.job_id, attempt=context.attempt,
                                         step=progress.step, steps=context.steps)
    except Exception:  # the database is briefly unreachable: keep training, try again next beat
        log.exception("job %s: heartbeat failed", context.job_id)
        return
    progress.stop.learn(signal)


def _stopped_at_once(context: RunContext, progress: Progress) -> Outcome | None:
    """A lost attempt ends silently; a cancelled one says where it stopped, then ends cancelled."""
    if progress.stop.lost:
        return None
    progress.pending.append({"type": "stopped", "step": progress.step, "reason": "cancelled", "checkpointed": False,
                             "message": f"cancelled at step {progress.step}; stopped without writing a checkpoint"})
    flush_events(context, progress)
    return _finish(context, Outcome.CANCELLED)


def _finish(context: RunContext, outcome: Outcome, error: str | None = None, *,
            announced: bool = False) -> Outcome | None:
    """End the attempt; `error` becomes the job's error and, unless the trainer `announced` it in an
    error event of its own, an error event."""
    with session_scope() as session:
        if error and not announced:
            lifecycle.record_events(session, job_id=context.job_id, attempt=context.attempt,
                                    events=[{"type": "error", "message": error[-4000:]}])
        ended = lifecycle.finish(session, job_id=context.job_id, attempt=context.attempt, outcome=outcome,
                                 error=error, steps=context.steps)
    return outcome if ended else None

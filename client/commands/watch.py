"""`sanacloud jobs watch ID`: follows a job to its end.

On a terminal, a live line (step of total, smoothed loss, lr, samples/s, ETA; the wait reason while
queued) with status changes and new checkpoints printed above it; otherwise plain lines, a step
line per tenth of the run. Exit code: 0 succeeded, 3 failed, 4 cancelled, 5 --timeout passed, 6 paused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sanacloud.client.commands.output import Output, clean, shown
from sanacloud.client.commands.session import Cli
from sanacloud.client.errors import WaitTimeout
from sanacloud.client.models import Job, JobEvent

FAILED, CANCELLED, TIMED_OUT, PAUSED = 3, 4, 5, 6
EXIT_CODES = {"succeeded": 0, "failed": FAILED, "cancelled": CANCELLED, "paused": PAUSED}
LOSS_SMOOTHING = 0.1  # weight of each new loss in the moving average
QUIET_EVENTS = frozenset({"step", "done", "sample", "cache", "start"})


class Run:
    """What the events have told so far about one job's run."""

    def __init__(self, job: Job) -> None:
        self.status, self.wait_reason, self.step = job.status, job.wait_reason, job.step
        steps = job.hyperparameters.get("steps")
        self.total: int | None = steps if isinstance(steps, int) else None
        self.loss: float | None = None
        self.lr: float | None = None
        self.samples_per_s: float | None = None
        self._first_step: tuple[datetime, int] | None = None  # the first step event's time, and its step
        self._last_at: datetime | None = None

    def apply(self, event: JobEvent) -> str | None:
        """Takes the event in; returns a line worth printing on its own, if it is one."""
        payload = event.payload
        if event.type == "status":
            self.status = str(payload.get("to"))
            self.wait_reason = None  # a move ends the wait it was in
            reason = f" ({payload['reason']})" if payload.get("reason") else ""
            return f"status: {payload.get('from')} -> {self.status}{reason}"
        if event.type in ("waiting", "pod_waiting"):  # the scheduler's reason, or the cluster's for a pod
            self.wait_reason = str(payload.get("reason") or payload.get("message"))
            return f"waiting: {self.wait_reason}"
        if event.type == "start" and isinstance(payload.get("steps"), int):
            self.total = payload["steps"]
        if event.type == "step":
            self._step(payload, event.created_at)
        if event.type == "progress":  # a captioning job's: images done of all
            self._step({"step": payload.get("done", self.step)}, event.created_at)
            self.total = payload.get("total", self.total)
            return None
        if event.type == "caption_failed":
            return f"caption failed: {payload.get('file')} ({payload.get('source')}): {payload.get('message')}"
        if event.type == "checkpoint":
            return (f"checkpoint {payload.get('checkpoint_id')} at step {payload.get('step')}, "
                    f"loss {shown(payload.get('loss'))}")
        if event.type == "error":
            return f"error: {payload.get('message')}"
        if event.type in QUIET_EVENTS:
            return None
        return f"{event.type}: {shown(payload)}"

    def take(self, event: JobEvent) -> None:
        """Takes the event in, showing nothing (with --json only the job as it ended is printed)."""
        self.apply(event)

    def _step(self, payload: dict[str, Any], at: datetime) -> None:
        self.step = int(payload.get("step", self.step))
        self._last_at = at
        if self._first_step is None:
            self._first_step = (at, self.step)
        loss = payload.get("loss")
        if isinstance(loss, int | float):
            self.loss = loss if self.loss is None else (1 - LOSS_SMOOTHING) * self.loss + LOSS_SMOOTHING * loss
        self.lr = payload.get("lr", self.lr)
        self.samples_per_s = payload.get("samples_per_s", self.samples_per_s)

    def eta(self) -> str:
        """The time left at the pace of the steps recorded so far (their events' times), e.g. '1:05'."""
        if self._first_step is None or self._last_at is None or not self.total:
            return "-"
        since, first = self._first_step
        elapsed = (self._last_at - since).total_seconds()
        if elapsed <= 0 or self.step <= first:
            return "-"
        rate = (self.step - first) / elapsed
        minutes, seconds = divmod(round((self.total - self.step) / rate), 60)
        return f"{minutes}:{seconds:02d}"

    def metrics(self) -> str:
        if self.status in ("queued", "admitted") and self.wait_reason:
            return f"waiting: {self.wait_reason}"
        return (f"loss {shown(self.loss)}  lr {shown(self.lr)}  {shown(self.samples_per_s)} samples/s"
                if self.loss is not None else self.status)


def watch_job(cli: Cli, job_id: Annotated[str, typer.Argument(help="the job's id")],
              timeout: Annotated[float | None, typer.Option(help="give up after this many seconds (exit 5)")] = None,
              poll_interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0) -> None:
    """Follow a job until it ends or is paused: live progress, status changes, checkpoints. Exit 0
    succeeded, 3 failed, 4 cancelled, 5 timed out, 6 paused."""
    run = Run(cli.client.jobs.retrieve(job_id))
    with _view(cli.out, run) as on_event:
        try:
            job = cli.client.jobs.wait(job_id, on_event=on_event, poll_interval=poll_interval, timeout=timeout)
        except WaitTimeout:
            raise cli.fail(f"job {job_id} is still {run.status} at step {run.step} after {timeout:g} s",
                           TIMED_OUT) from None
    if cli.out.as_json:
        cli.out.json(job)
    else:
        ended = f"job {job.id} {job.status} at step {job.step}" + (f": {job.error}" if job.error else "")
        cli.out.line(ended, style="bold green" if job.status == "succeeded" else "bold red")
    raise typer.Exit(EXIT_CODES.get(job.status, FAILED))


@contextmanager
def _view(out: Output, run: Run) -> Iterator[Callable[[JobEvent], None]]:
    if out.live is not None:
        with _live(out, run) as on_event:
            yield on_event
    elif out.as_json:
        yield run.take
    else:
        yield _plain(out, run)


@contextmanager
def _live(out: Output, run: Run) -> Iterator[Callable[[JobEvent], None]]:
    columns = (TextColumn("{task.fields[status]}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
               TextColumn("ETA {task.fields[eta]}"), TextColumn("{task.fields[metrics]}", markup=False))
    with Progress(*columns, console=out.live) as progress:
        task = progress.add_task("", total=run.total, completed=run.step, status=clean(run.status),
                                 metrics=clean(run.metrics()), eta=run.eta())

        def on_event(event: JobEvent) -> None:
            said = run.apply(event)
            if said:
                progress.console.print(clean(said), markup=False, highlight=False)
            progress.update(task, total=run.total, completed=run.step, status=clean(run.status),
                            metrics=clean(run.metrics()), eta=run.eta())

        yield on_event


def _plain(out: Output, run: Run) -> Callable[[JobEvent], None]:
    tenth = -1

    def on_event(event: JobEvent) -> None:
        nonlocal tenth
        said = run.apply(event)
        if said:
            out.line(said)
        if event.type in ("step", "progress") and run.total and 10 * run.step // run.total > tenth:
            tenth = 10 * run.step // run.total
            done = "step" if event.type == "step" else "captioned"
            out.line(f"{done} {run.step}/{run.total}  {run.metrics()}  ETA {run.eta()}")

    return on_event

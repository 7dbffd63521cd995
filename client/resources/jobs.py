from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sanacloud.client._call import Call, Flow, Sleep, parse_as, parse_list, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.errors import WaitTimeout
from sanacloud.client.models import Checkpoint, Job, JobEvent
from sanacloud.client.pagination import PageCall, RawPage, parse_page

EVENTS_PER_REQUEST = 1000  # the API's most
Checkpoints = list[Checkpoint]  # an alias: `list` is a method name in the class


class Jobs(Resource[D]):
    @operation("jobs-create")
    def create(self, *, dataset_id: str, base_model: str, type: str = "lora", name: str | None = None,
               pool: str | None = None, gpus: int | None = None, priority: int | None = None,
               hyperparameters: dict[str, Any] | None = None, lora: dict[str, Any] | None = None,
               deepspeed: dict[str, Any] | None = None, from_checkpoint: str | None = None,
               idempotency_key: str | None = None) -> Call[Job]:
        """Submits a job (`from_checkpoint`: starting from that checkpoint's weights). Its
        Idempotency-Key (made here unless given) makes the SDK's own retries safe."""
        body = without_none(type=type, dataset_id=dataset_id, base_model=base_model, name=name, pool=pool, gpus=gpus,
                            priority=priority, hyperparameters=hyperparameters, lora=lora, deepspeed=deepspeed,
                            from_checkpoint=from_checkpoint)
        key = idempotency_key if idempotency_key is not None else f"sdk-{uuid.uuid4()}"
        return Call("jobs-create", parse_as(Job), json=body, headers={"Idempotency-Key": key})

    @operation("jobs-get")
    def retrieve(self, job_id: str) -> Call[Job]:
        return _job(job_id)

    @paged("jobs-list")
    def list(self, *, status: str | None = None, dataset_id: str | None = None,
             limit: int | None = None) -> PageCall[Job]:
        return PageCall(Call("jobs-list", parse_page(Job),
                             params=without_none(status=status, dataset_id=dataset_id, limit=limit)))

    @operation("jobs-cancel")
    def cancel(self, job_id: str) -> Call[Job]:
        return Call("jobs-cancel", parse_as(Job), path={"job_id": job_id})

    @operation("jobs-pause")
    def pause(self, job_id: str) -> Call[Job]:
        """Pauses the job: at once if it is not running yet, else once its trainer has checkpointed."""
        return Call("jobs-pause", parse_as(Job), path={"job_id": job_id})

    @operation("jobs-resume")
    def resume(self, job_id: str) -> Call[Job]:
        """Queues a paused job again; it continues from its newest checkpoint."""
        return Call("jobs-resume", parse_as(Job), path={"job_id": job_id})

    @operation("jobs-update")
    def update(self, job_id: str, *, steps: int | None = None, name: str | None = None) -> Call[Job]:
        """Renames the job, or extends it to `steps` in all (a succeeded job trains on)."""
        return Call("jobs-update", parse_as(Job), path={"job_id": job_id}, json=without_none(steps=steps, name=name))

    @operation("jobs-delete")
    def delete(self, job_id: str) -> Call[None]:
        return Call("jobs-delete", parse_nothing, path={"job_id": job_id})

    @paged("jobs-list-events")
    def events(self, job_id: str, *, after: int | None = None, type: str | Sequence[str] | None = None,
               limit: int | None = None) -> PageCall[JobEvent]:
        """The job's events, oldest first, after the event id `after`; `type` keeps only those types."""
        return PageCall(_events(job_id, after=after, type=type, limit=limit), cursor_param="after")

    @operation("jobs-list-checkpoints")
    def checkpoints(self, job_id: str) -> Call[Checkpoints]:
        return Call("jobs-list-checkpoints", parse_list(Checkpoint), path={"job_id": job_id})

    @operation()
    def wait(self, job_id: str, *, on_event: Callable[[JobEvent], None] | None = None, poll_interval: float = 1.0,
             timeout: float | None = None) -> Flow[Job]:
        """Follows the job until it has succeeded, failed, been cancelled or paused, and returns it then.

        on_event: called with each of its events, once each and in order. Raises WaitTimeout when
        `timeout` seconds pass first; a failed job is returned, not raised (`job.status` says).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        after = 0
        while True:
            job: Job = yield _job(job_id)
            while on_event is not None:  # the events up to the status just read, all of them written before it
                page: RawPage[JobEvent] = yield _events(job_id, after=after, limit=EVENTS_PER_REQUEST)
                for event in page.items:
                    on_event(event)
                    after = event.id
                if page.next_cursor is None:
                    break
            if job.stopped:
                return job
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeout(f"job {job_id} is still {job.status} after {timeout:g} s")
            yield Sleep(poll_interval if left is None else min(poll_interval, left))


def _job(job_id: str) -> Call[Job]:
    return Call("jobs-get", parse_as(Job), path={"job_id": job_id})


def _events(job_id: str, *, after: int | None = None, type: str | Sequence[str] | None = None,
            limit: int | None = None) -> Call[RawPage[JobEvent]]:
    types = [type] if isinstance(type, str) else (list(type) if type is not None else None)
    return Call("jobs-list-events", parse_page(JobEvent), path={"job_id": job_id},
                params=without_none(after=after, type=types, limit=limit))

"""The Celery task that runs one admitted training attempt on this worker."""

from __future__ import annotations

import logging
import os
import socket

from celery.concurrency.solo import TaskPool as SoloPool
from celery.signals import task_postrun, task_received
from celery.worker.consumer import Consumer
from celery.worker.request import Request

from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.queues import TRAIN_TASK
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store
from sanacloud.workers.celery_app import app
from sanacloud.workers.training.supervise import run_attempt

log = logging.getLogger(__name__)
_paused: list[Consumer] = []


@app.task(name=TRAIN_TASK)
def run(job_id: str, attempt: int) -> str | None:
    """Claim the attempt (a stale or duplicate delivery claims nothing and returns), then run it."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with session_scope() as session:
        context = lifecycle.claim(session, job_id=job_id, attempt=attempt, worker=worker)
    if context is None:
        log.info("job %s attempt %d is not admitted any more; nothing to run", job_id, attempt)
        return None
    outcome = run_attempt(context, store=get_object_store(), settings=get_settings())
    log.info("job %s attempt %d ended: %s", job_id, attempt, outcome or "taken over elsewhere")
    return str(outcome) if outcome else None


@task_received.connect
def _acknowledge_at_once(sender: Consumer, request: Request, **_: object) -> None:
    """In a solo worker, Celery's own acknowledgement waits for the event loop, which the run blocks
    to its end: a training message is acknowledged here instead (queues.py says why). On RabbitMQ
    the worker stops consuming first, or it would be pushed the next message at once (an inference
    request, on a GPU worker that serves both) to hold unacknowledged until the run ends; a busy
    worker pulls nothing from Redis."""
    if request.name != TRAIN_TASK or not isinstance(sender.pool, SoloPool):
        return
    if sender.connection.transport.driver_type == "amqp":
        sender.task_consumer.cancel()
        _paused.append(sender)
    request.message.ack()
    request.acknowledged = True  # so that Celery does not acknowledge it again


@task_postrun.connect
def _resume_consuming(**_: object) -> None:
    """After the run (in a solo worker, the next task to end is the one that paused it)."""
    while _paused:
        _paused.pop().task_consumer.consume()

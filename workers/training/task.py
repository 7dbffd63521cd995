"""The Celery task that takes an admitted training attempt's message and hands it to the executor."""

from __future__ import annotations

from celery.concurrency.solo import TaskPool as SoloPool
from celery.signals import task_postrun, task_received
from celery.worker.consumer import Consumer
from celery.worker.request import Request

from sanacloud.platform.cluster.executor import get_executor
from sanacloud.platform.queues import TRAIN_TASK
from sanacloud.platform.settings import get_settings
from sanacloud.workers.celery_app import app
from sanacloud.workers.training.attempt import run_here

_paused: list[Consumer] = []


@app.task(name=TRAIN_TASK)
def run(job_id: str, attempt: int) -> str | None:
    """The attempt a message names: run here (local executor) or made a pod (kubernetes)."""
    return get_executor(get_settings(), run_here=run_here).launch(job_id, attempt)


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

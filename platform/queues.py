"""Celery configuration and task dispatch, shared by the API (producer) and the workers.

Queues: `maintenance` (beat's housekeeping), `train.<pool>` and `infer.<pool>` per GPU pool. The
platform sends tasks by name, so it needs no import of the workers' code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery

from sanacloud.platform.settings import Settings, get_settings

MAINTENANCE_QUEUE = "maintenance"
TRAIN_TASK = "sanacloud.train.run"
INFER_TASK = "sanacloud.infer.generate"
TICK_TASK = "sanacloud.maintenance.tick"
RECONCILE_TASK = "sanacloud.maintenance.reconcile"


def train_queue(pool: str) -> str:
    return f"train.{pool}"


def infer_queue(pool: str, key: str | None = None) -> str:
    """A pool's inference queue; with a served model's key, that model's own (the Kubernetes
    executor's inference Deployments each consume one, so that requests reach pods that hold their model)."""
    return f"infer.{pool}.{key}" if key else f"infer.{pool}"


def celery_config(settings: Settings) -> dict[str, Any]:
    transport_options: dict[str, object] = {}
    if settings.effective_broker_url.startswith("filesystem://"):
        queue_dir, processed_dir, control_dir = (settings.broker_dir / n for n in ("queue", "processed", "control"))
        for folder in (queue_dir, processed_dir, control_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # One folder for in and out: producers and consumers on this machine share it. The control
        # folder (exchange bindings) defaults to the working directory: keep it in the data dir too.
        transport_options = {"data_folder_in": str(queue_dir), "data_folder_out": str(queue_dir),
                             "data_folder_processed": str(processed_dir), "store_processed": False,
                             "control_folder": str(control_dir)}
    elif settings.effective_broker_url.startswith(("redis://", "rediss://")):
        transport_options = {"visibility_timeout": settings.broker_visibility_timeout_s,
                             "global_keyprefix": settings.broker_key_prefix}
    # What a message guarantees. A training run's: only that the admitted attempt reaches a worker.
    # It is acknowledged on receipt and the database owns the rest: the reaper sends an admitted
    # job no worker claimed again (DISPATCH_RETRY_S) and requeues a running one whose heartbeats
    # stop, and a claim is idempotent per (job, attempt). So no message waits unacknowledged for
    # the hours a run takes, for Redis's visibility timeout to redeliver or RabbitMQ's
    # consumer_timeout to close the channel; and a worker takes no other message while it trains
    # (workers/training/task.py). Inference and maintenance tasks take seconds: acknowledged when
    # done, so a lost worker's task is redelivered and a busy worker's one prefetch slot stays full.
    # No AMQP heartbeats: a solo worker busy in a task cannot answer them; job heartbeats in the
    # database tell a lost worker, TCP keepalive a dead connection.
    return {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_heartbeat": 0,
        "task_default_queue": MAINTENANCE_QUEUE,
        "task_acks_late": True,
        "task_annotations": {TRAIN_TASK: {"acks_late": False}},
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # one task at a time per worker process
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "beat_schedule": {
            "purge-expired-idempotency-keys": {
                "task": "sanacloud.maintenance.purge_idempotency_keys", "schedule": 3600.0,
            },
            "scheduler-tick": {"task": TICK_TASK, "schedule": float(settings.scheduler_tick_s)},
            "sweep-orphans": {"task": "sanacloud.maintenance.sweep_orphans", "schedule": 3600.0},
        },
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
    }


@lru_cache
def producer() -> Celery:
    """A Celery app that only sends (the API's and the scheduler's side of the broker)."""
    app = Celery("sanacloud")
    app.conf.update(celery_config(get_settings()))
    return app


def send_training(job_id: str, attempt: int, pool: str) -> None:
    producer().send_task(TRAIN_TASK, args=[job_id, attempt], queue=train_queue(pool))


def send_inference(generation_id: str, queue: str) -> None:
    producer().send_task(INFER_TASK, args=[generation_id], queue=queue)


def send_reconcile() -> None:
    """Ask the executor for a reconcile pass now rather than at the next tick (a cold start)."""
    producer().send_task(RECONCILE_TASK, queue=MAINTENANCE_QUEUE)

"""The Celery application. Embedded mode uses kombu's filesystem transport in the data dir."""

from __future__ import annotations

from celery import Celery

from sanacloud.platform.settings import Settings, get_settings

MAINTENANCE_QUEUE = "maintenance"


def make_celery(settings: Settings) -> Celery:
    app = Celery("sanacloud", include=["sanacloud.workers.maintenance"])
    transport_options: dict[str, object] = {}
    if settings.effective_broker_url.startswith("filesystem://"):
        queue_dir = settings.broker_dir / "queue"
        processed_dir = settings.broker_dir / "processed"
        for folder in (queue_dir, processed_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # One folder for in and out: producers and consumers on this machine share it.
        transport_options = {"data_folder_in": str(queue_dir), "data_folder_out": str(queue_dir),
                             "data_folder_processed": str(processed_dir), "store_processed": False}
    app.conf.update(
        broker_url=settings.effective_broker_url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue=MAINTENANCE_QUEUE,
        task_acks_late=True,  # a task whose worker dies is redelivered
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # one task at a time per worker process
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        beat_schedule={
            "purge-expired-idempotency-keys": {
                "task": "sanacloud.maintenance.purge_idempotency_keys", "schedule": 3600.0,
            },
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    return app


app = make_celery(get_settings())

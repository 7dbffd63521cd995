"""The Celery application the workers run; its configuration is the platform's (queues.py)."""

from __future__ import annotations

from celery import Celery

from sanacloud.platform.observability.celery_hooks import observe_worker
from sanacloud.platform.queues import celery_config
from sanacloud.platform.settings import Settings, get_settings
from sanacloud.platform.webhooks.dispatch import beat_schedule as webhook_schedule


def make_celery(settings: Settings) -> Celery:
    app = Celery("sanacloud", include=["sanacloud.workers.maintenance", "sanacloud.workers.training.task",
                                           "sanacloud.workers.inference.task", "sanacloud.workers.webhooks"])
    app.conf.update(celery_config(settings))
    app.conf.beat_schedule.update(webhook_schedule(settings))
    observe_worker(settings)
    return app


app = make_celery(get_settings())

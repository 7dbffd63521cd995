"""The Celery application the workers run; its configuration is the platform's (queues.py)."""

from __future__ import annotations

from celery import Celery

from sanacloud.platform.observability.celery_hooks import observe_worker
from sanacloud.platform.queues import celery_config
from sanacloud.platform.settings import Settings, get_settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("sanacloud", include=["sanacloud.workers.maintenance", "sanacloud.workers.training.task",
                                           "sanacloud.workers.inference.task"])
    app.conf.update(celery_config(settings))
    observe_worker(settings)
    return app


app = make_celery(get_settings())

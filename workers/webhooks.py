"""The webhook delivery task, on the maintenance queue: sent by beat every SANACLOUD_WEBHOOK_POLL_S
and after each commit that wrote deliveries (platform/webhooks/dispatch.py)."""

from __future__ import annotations

import logging

from sanacloud.platform.settings import get_settings
from sanacloud.platform.webhooks.delivery import deliver_due
from sanacloud.platform.webhooks.dispatch import DELIVER_TASK
from sanacloud.workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name=DELIVER_TASK)
def deliver() -> dict[str, int]:
    outcomes = dict(deliver_due(get_settings()))
    if outcomes:
        log.info("webhook deliveries: %s", outcomes)
    return outcomes

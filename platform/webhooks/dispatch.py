"""How deliveries reach a worker: beat's periodic pick-up, and a nudge after each commit that
wrote some. Both send the same task to the maintenance queue (workers/webhooks.py runs it); the
outbox, not the message, holds the work, so a lost message costs only a poll's delay."""

from __future__ import annotations

import logging
from typing import Any

from sanacloud.platform import queues
from sanacloud.platform.settings import Settings

DELIVER_TASK = "sanacloud.webhooks.deliver"
log = logging.getLogger(__name__)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {"webhook-deliveries": {"task": DELIVER_TASK, "schedule": float(settings.webhook_poll_s)}}


def kick() -> None:
    try:
        queues.producer().send_task(DELIVER_TASK, queue=queues.MAINTENANCE_QUEUE)
    except Exception:  # whatever the transport raises: beat's next poll sends them
        log.warning("could not ask a worker to send webhook deliveries now; the next poll will", exc_info=True)

"""What a tenant's webhooks are told, and `emit`, which writes the outbox.

`emit` adds one delivery row per enabled webhook of the tenant whose filter takes the event, in the
caller's transaction: an event commits or rolls back with the change it reports, and a worker that
dies before sending it loses nothing (platform/webhooks/delivery.py sends what is due).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import new_id, utcnow
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.db.models import Webhook, WebhookDelivery
from sanacloud.platform.webhooks.dispatch import kick

CACHE_KEY = "webhooks.enabled"  # in session.info: (transaction, {tenant id: [(webhook id, its events)]})
KICK_KEY = "webhooks.kick"  # in session.info: the transaction whose commit asks a worker to deliver


class EventType(StrEnum):
    JOB_STATUS = "job.status"  # every change of a job's status
    CHECKPOINT_CREATED = "checkpoint.created"
    GENERATION_FINISHED = "generation.finished"  # succeeded or failed
    ENDPOINT_STATUS = "endpoint.status"


def emit(session: Session, *, tenant_id: str, type: EventType | str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Record `data` as an event of `type` for every enabled webhook of the tenant that takes it."""
    event_type = EventType(type)
    webhook_ids = [webhook_id for webhook_id, events in _enabled(session, tenant_id) if event_type in events]
    if not webhook_ids:
        return []
    now, event_id = utcnow(), new_id("evt")
    deliveries = []
    for webhook_id in webhook_ids:
        delivery_id = new_id("whd")
        envelope = {"id": delivery_id, "event_id": event_id, "type": str(event_type), "created_at": now.isoformat(),
                    "tenant_id": tenant_id, "data": _finite(data)}
        deliveries.append(WebhookDelivery(
            id=delivery_id, webhook_id=webhook_id, tenant_id=tenant_id, event_id=event_id, event_type=event_type,
            body=json.dumps(envelope, separators=(",", ":"), default=_moment), next_attempt_at=now, created_at=now))
    session.add_all(deliveries)
    if session.info.get(KICK_KEY) is not session.get_transaction():
        session.info[KICK_KEY] = session.get_transaction()
        on_commit(session, kick)  # no need to wait for the next poll
    return deliveries


def forget_enabled(session: Session) -> None:
    """Drop what `emit` read of the webhooks in this transaction (after a webhook changed in it)."""
    session.info.pop(CACHE_KEY, None)


def _enabled(session: Session, tenant_id: str) -> list[tuple[str, list[str]]]:
    """The tenant's enabled webhooks, read once per transaction: a scheduler pass moves many jobs."""
    cached = session.info.get(CACHE_KEY)
    if cached is None or cached[0] is not session.get_transaction():
        cached = (None, {})
    tenants: dict[str, list[tuple[str, list[str]]]] = cached[1]
    if tenant_id not in tenants and not _bound(session):
        return []  # a session of no database (a unit test's) stores nothing to deliver
    if tenant_id not in tenants:
        with session.no_autoflush:  # a read on the side: the caller's pending changes flush when it says
            rows = session.execute(select(Webhook.id, Webhook.events)
                                   .where(Webhook.tenant_id == tenant_id, Webhook.enabled.is_(True))).all()
        tenants[tenant_id] = [(webhook_id, list(events)) for webhook_id, events in rows]
    session.info[CACHE_KEY] = (session.get_transaction(), tenants)
    return tenants[tenant_id]


def _bound(session: Session) -> bool:
    try:
        session.get_bind(Webhook)
    except UnboundExecutionError:
        return False
    return True


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as null: JSON has neither (a diverged run's metrics may hold them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _moment(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"an event's data must be JSON, not {type(value).__name__}")

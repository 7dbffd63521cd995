"""Sending the outbox: claim due deliveries under a lease, POST them, record each outcome.

At least once: a delivery is claimed (attempt counted, lease set) and committed before it is
sent, and its outcome recorded after; a worker that dies in between leaves it leased, and once
the lease expires another worker sends it again with the same id. A failed attempt is retried
with exponential backoff and jitter up to SANACLOUD_WEBHOOK_MAX_ATTEMPTS; a webhook whose
deliveries are given up SANACLOUD_WEBHOOK_DISABLE_AFTER times in a row is disabled, saying why.
Redirects are never followed: a 3xx is a failure.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import DeliveryStatus, Webhook, WebhookDelivery
from sanacloud.platform.db.scoped import locked
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import shortened
from sanacloud.platform.settings import Settings
from sanacloud.platform.webhooks.addresses import UnsafeURL, pin
from sanacloud.platform.webhooks.metrics import DELIVERIES
from sanacloud.platform.webhooks.signing import signed_headers, webhook_secret

RESPONSE_SNIPPET_BYTES = 200  # of a failed response's body, kept in last_error to help its owner
BUDGET_S = 15.0  # one task sends batches for about this long (it shares the maintenance queue with the ticks)


@dataclass(frozen=True)
class Claimed:
    id: str
    url: str
    secret: str
    event_type: str
    body: str
    attempt: int


@dataclass(frozen=True)
class Outcome:
    kind: str  # the metric's outcome label
    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.kind == "delivered"


def deliver_due(settings: Settings, *, budget_s: float = BUDGET_S) -> Counter[str]:
    """Send due deliveries, a batch at a time, until none is due or the budget is spent."""
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    with (httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False) as client,
          ThreadPoolExecutor(settings.webhook_batch, thread_name_prefix="webhook") as pool):
        while True:
            with session_scope() as session:
                claimed = claim(session, settings=settings, now=utcnow())
            sending = {pool.submit(send, each, settings=settings, client=client): each for each in claimed}
            for future in as_completed(sending):
                outcome = future.result()
                with session_scope() as session:
                    record(session, sending[future], outcome, settings=settings, now=utcnow())
                outcomes[outcome.kind] += 1
            if len(claimed) < settings.webhook_batch or time.monotonic() - started > budget_s:
                return outcomes


def claim(session: Session, *, settings: Settings, now: datetime) -> list[Claimed]:
    """Lease up to a batch of due deliveries of enabled webhooks (rows other workers hold are skipped)."""
    due = (select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
           .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
                  or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
                  Webhook.enabled.is_(True))
           .order_by(WebhookDelivery.next_attempt_at).limit(settings.webhook_batch)
           .with_for_update(skip_locked=True, of=WebhookDelivery))
    claimed = []
    for delivery, webhook in session.execute(due).all():
        if delivery.attempts >= settings.webhook_max_attempts:  # its worker died during the last attempt
            delivery.last_error = "its worker stopped during the last attempt"
            _give_up(session, delivery, settings=settings, now=now)
            DELIVERIES.labels("lost_worker").inc()
            continue
        delivery.attempts += 1
        delivery.locked_until = now + timedelta(seconds=settings.webhook_lease_s)
        delivery.last_attempt_at = now
        claimed.append(Claimed(delivery.id, webhook.url, webhook_secret(settings.effective_secret_key,
                                                                        webhook.secret_salt),
                               delivery.event_type, delivery.body, delivery.attempts))
    return claimed


def send(claimed: Claimed, *, settings: Settings, client: httpx.Client) -> Outcome:
    """POST one delivery, signed, to the address its URL resolves to now (checked again)."""
    try:
        target = pin(claimed.url, allow_private=settings.webhook_allow_private_addresses)
    except UnsafeURL as refused:
        return _counted(Outcome("refused_address", error=f"not sent: {refused}"))
    headers = signed_headers(claimed.secret, delivery_id=claimed.id, event_type=claimed.event_type,
                             body=claimed.body, timestamp=int(time.time()))
    try:
        with client.stream("POST", target.url, content=claimed.body.encode(), headers={**headers, **target.headers},
                           extensions=target.extensions) as response:
            status = response.status_code
            if 200 <= status < 300:
                return _counted(Outcome("delivered", status))
            if 300 <= status < 400:
                where = response.headers.get("location", "nowhere")
                return _counted(Outcome("redirect", status, f"HTTP {status} redirecting to {shortened(where)}: "
                                        "deliveries do not follow redirects; register the final URL"))
            snippet = _snippet(response, settings.webhook_timeout_s)
            return _counted(Outcome("http_error", status, f"HTTP {status}{snippet}"))
    except httpx.TimeoutException:
        return _counted(Outcome("timeout", error=f"no answer within {settings.webhook_timeout_s:g} s "
                                                 "(SANACLOUD_WEBHOOK_TIMEOUT_S)"))
    except httpx.HTTPError as error:
        return _counted(Outcome("connection_error", error=f"could not reach the URL: {error or type(error).__name__}"))


def record(session: Session, claimed: Claimed, outcome: Outcome, *, settings: Settings, now: datetime) -> None:
    """Store an attempt's outcome, unless the delivery has moved on since (deleted, or retaken after its lease)."""
    delivery = locked(session, WebhookDelivery, claimed.id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.attempts != claimed.attempt:
        return
    delivery.locked_until = None
    delivery.response_status = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.delivered:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        _webhook(session, delivery).consecutive_failures = 0
    elif delivery.attempts >= settings.webhook_max_attempts:
        _give_up(session, delivery, settings=settings, now=now)
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts, settings))


def retry_delay(attempts: int, settings: Settings) -> float:
    """After `attempts` failed: base × 2^(attempts-1), capped, of which a random half (equal jitter),
    so that the deliveries of one outage do not all come back at once."""
    ceiling = min(settings.webhook_retry_max_s, settings.webhook_retry_base_s * 2.0 ** min(attempts - 1, 32))
    return ceiling / 2 + random.random() * ceiling / 2


def _give_up(session: Session, delivery: WebhookDelivery, *, settings: Settings, now: datetime) -> None:
    delivery.status, delivery.locked_until = DeliveryStatus.FAILED, None
    webhook = _webhook(session, delivery)
    webhook.consecutive_failures += 1
    if webhook.enabled and webhook.consecutive_failures >= settings.webhook_disable_after:
        webhook.enabled, webhook.updated_at = False, now
        webhook.disabled_reason = (
            f"disabled at {now:%Y-%m-%d %H:%M} UTC: {webhook.consecutive_failures} deliveries in a row failed "
            f"all {settings.webhook_max_attempts} attempts; the last: {delivery.last_error}. Fix the receiver, then "
            "PATCH the webhook with enabled: true (its pending deliveries are sent again)")


def _webhook(session: Session, delivery: WebhookDelivery) -> Webhook:
    """The delivery's webhook, locked: its failure count changes. NO KEY UPDATE, so that inserting
    deliveries for it (an event's transaction) does not wait for this."""
    return session.scalars(select(Webhook).where(Webhook.id == delivery.webhook_id)
                           .with_for_update(key_share=True).execution_options(populate_existing=True)).one()


def _snippet(response: httpx.Response, timeout_s: float) -> str:
    """The start of a failed response's body, read for at most `timeout_s` (a receiver may drip it)."""
    read, ends = b"", time.monotonic() + timeout_s
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= RESPONSE_SNIPPET_BYTES or time.monotonic() > ends:
            break
    text = read[:RESPONSE_SNIPPET_BYTES].decode(errors="replace").strip()
    return f": {text}" if text else ""


def _counted(outcome: Outcome) -> Outcome:
    DELIVERIES.labels(outcome.kind).inc()
    return outcome

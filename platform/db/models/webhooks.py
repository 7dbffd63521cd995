"""Tenant webhooks and their outbox: one delivery row per (webhook, event), written in the
transaction of the change it reports (platform/webhooks/events.py) and sent by the workers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from sanacloud.platform.db.base import Base, created_at_column, id_column


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (or being sent, until locked_until)
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed: given up


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = id_column("wh")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[Any]] = mapped_column(default=list)  # the event types it receives
    # The signing secret is derived from this and the platform's secret key (platform/webhooks/signing.py),
    # so the database alone does not give it away.
    secret_salt: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")  # deliveries given up in a row
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    # What the workers look for: pending deliveries by due time.
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = id_column("whd")  # Sanacloud-Webhook-Id: the same on every attempt, for receivers to dedupe
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), index=True)  # shared by one event's deliveries
    event_type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent and signed
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # started, a lost worker's included
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]  # a worker's lease while it sends; expired: the worker is gone
    response_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

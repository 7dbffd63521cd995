from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from sanacloud.api.schemas import RequestModel, ResponseModel
from sanacloud.platform.webhooks.addresses import MAX_URL_CHARS

EventName = Literal["job.status", "checkpoint.created", "generation.finished", "endpoint.status"]
ALL_EVENTS: list[EventName] = ["job.status", "checkpoint.created", "generation.finished", "endpoint.status"]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS,
                           description="http(s) URL on a public address; redirects are not followed")]
Events = Annotated[list[EventName], Field(min_length=1, max_length=len(ALL_EVENTS),
                                          description="the event types sent to this URL")]


class WebhookCreate(RequestModel):
    url: Url
    events: Events = Field(default_factory=lambda: list(ALL_EVENTS))


class WebhookUpdate(RequestModel):
    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = Field(default=None, description="true re-enables a disabled webhook (its failures "
                                                           "forgotten, its pending deliveries sent)")


class WebhookOut(ResponseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="why the platform disabled it, when it did")
    consecutive_failures: int = Field(description="deliveries given up in a row (every attempt failed)")
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs every delivery (Sanacloud-Webhook-Signature); shown this once")


class WebhookDeliveryOut(ResponseModel):
    id: str = Field(description="Sanacloud-Webhook-Id: the same on every attempt; receivers deduplicate on it")
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered or failed (every attempt failed)")
    attempts: int
    response_status: int | None = Field(description="the last attempt's HTTP status, if it got one")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None

"""The tenant's webhooks: URLs that receive its events, signed (verify them with sanacloud.client.webhooks)."""

from __future__ import annotations

from collections.abc import Sequence

from sanacloud.client._call import Call, parse_as, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.models import Webhook, WebhookCreated, WebhookDelivery
from sanacloud.client.pagination import PageCall, parse_page


class Webhooks(Resource[D]):
    @operation("webhooks-create")
    def create(self, url: str, *, events: Sequence[str] | None = None) -> Call[WebhookCreated]:
        """Register `url` for `events` (default: all of job.status, checkpoint.created, generation.finished,
        endpoint.status). The answer's `secret` signs the deliveries; it is shown this once."""
        return Call("webhooks-create", parse_as(WebhookCreated), json=without_none(url=url, events=_listed(events)))

    @paged("webhooks-list")
    def list(self, *, limit: int | None = None) -> PageCall[Webhook]:
        return PageCall(Call("webhooks-list", parse_page(Webhook), params=without_none(limit=limit)))

    @operation("webhooks-get")
    def retrieve(self, webhook_id: str) -> Call[Webhook]:
        return Call("webhooks-get", parse_as(Webhook), path={"webhook_id": webhook_id})

    @operation("webhooks-update")
    def update(self, webhook_id: str, *, url: str | None = None, events: Sequence[str] | None = None,
               enabled: bool | None = None) -> Call[Webhook]:
        """Change the URL or events; `enabled=True` re-enables a webhook the platform disabled."""
        return Call("webhooks-update", parse_as(Webhook), path={"webhook_id": webhook_id},
                    json=without_none(url=url, events=_listed(events), enabled=enabled))

    @operation("webhooks-delete")
    def delete(self, webhook_id: str) -> Call[None]:
        return Call("webhooks-delete", parse_nothing, path={"webhook_id": webhook_id})

    @paged("webhooks-list-deliveries")
    def deliveries(self, webhook_id: str, *, limit: int | None = None) -> PageCall[WebhookDelivery]:
        """What was sent to the webhook, newest first, with each delivery's attempts and last outcome."""
        return PageCall(Call("webhooks-list-deliveries", parse_page(WebhookDelivery), path={"webhook_id": webhook_id},
                             params=without_none(limit=limit)))


def _listed(events: Sequence[str] | None) -> list[str] | None:
    return None if events is None else [*events]

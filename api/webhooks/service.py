"""A tenant's webhooks: tenant admins register and change them (a URL receives the tenant's events);
every member may read them and their deliveries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.api.webhooks import schemas
from sanacloud.platform import audit
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import DeliveryStatus, Webhook, WebhookDelivery
from sanacloud.platform.db.scoped import get_owned, lock_tenant
from sanacloud.platform.errors import Conflict, InvalidInput
from sanacloud.platform.settings import Settings
from sanacloud.platform.webhooks.addresses import UnsafeURL, check_url
from sanacloud.platform.webhooks.events import forget_enabled
from sanacloud.platform.webhooks.signing import new_salt, webhook_secret


def get(session: Session, *, actor: TenantPrincipal, webhook_id: str, for_update: bool = False) -> Webhook:
    return get_owned(session, Webhook, webhook_id, tenant_id=actor.tenant_id, kind="webhook", for_update=for_update)


def list_webhooks(session: Session, *, actor: TenantPrincipal, params: PageParams) -> tuple[list[Webhook], str | None]:
    rows, cursor = paginate(session, select(Webhook).where(Webhook.tenant_id == actor.tenant_id), Webhook.id, params)
    return list(rows), cursor


def create(session: Session, settings: Settings, *, actor: TenantPrincipal,
           body: schemas.WebhookCreate) -> tuple[Webhook, str]:
    """A new webhook, and its signing secret (not stored: shown this once)."""
    url = _checked(body.url, settings)
    lock_tenant(session, actor.tenant_id)
    count = session.scalar(select(func.count()).select_from(Webhook).where(Webhook.tenant_id == actor.tenant_id))
    if (count or 0) >= settings.max_webhooks_per_tenant:
        raise Conflict(f"this tenant has {count} webhooks, its cap (SANACLOUD_MAX_WEBHOOKS_PER_TENANT = "
                       f"{settings.max_webhooks_per_tenant}); delete some first")
    webhook = Webhook(tenant_id=actor.tenant_id, url=url, events=_unique(body.events), secret_salt=new_salt())
    session.add(webhook)
    session.flush()
    forget_enabled(session)
    _audit(session, actor, "webhook.create", webhook.id, {"url": url, "events": webhook.events})
    return webhook, webhook_secret(settings.effective_secret_key, webhook.secret_salt)


def update(session: Session, settings: Settings, *, actor: TenantPrincipal, webhook_id: str,
           body: schemas.WebhookUpdate) -> Webhook:
    webhook = get(session, actor=actor, webhook_id=webhook_id, for_update=True)
    if body.url is not None:
        webhook.url = _checked(body.url, settings)
    if body.events is not None:
        webhook.events = _unique(body.events)
    if body.enabled is not None:
        if body.enabled and not webhook.enabled:  # a fresh start: what disabled it is behind
            webhook.consecutive_failures, webhook.disabled_reason = 0, None
        webhook.enabled = body.enabled
    webhook.updated_at = utcnow()
    forget_enabled(session)
    _audit(session, actor, "webhook.update", webhook.id, body.model_dump(exclude_none=True))
    return webhook


def delete(session: Session, *, actor: TenantPrincipal, webhook_id: str) -> None:
    """The webhook and its deliveries, sent or not."""
    webhook = get(session, actor=actor, webhook_id=webhook_id, for_update=True)
    session.delete(webhook)
    forget_enabled(session)
    _audit(session, actor, "webhook.delete", webhook.id, {"url": webhook.url})


def deliveries(session: Session, *, actor: TenantPrincipal, webhook_id: str,
               params: PageParams) -> tuple[list[schemas.WebhookDeliveryOut], str | None]:
    """The webhook's deliveries, newest first."""
    webhook = get(session, actor=actor, webhook_id=webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id,
                                          WebhookDelivery.tenant_id == actor.tenant_id)
    rows, cursor = paginate(session, query, WebhookDelivery.id, params)
    return [delivery_out(row) for row in rows], cursor


def delivery_out(delivery: WebhookDelivery) -> schemas.WebhookDeliveryOut:
    out = schemas.WebhookDeliveryOut.model_validate(delivery)
    if delivery.status != DeliveryStatus.PENDING:  # no next attempt for a delivery that is done
        out.next_attempt_at = None
    elif delivery.locked_until is not None:  # being sent: tried again when its lease ends, if it fails
        out.next_attempt_at = max(delivery.next_attempt_at, delivery.locked_until)
    return out


def _checked(url: str, settings: Settings) -> str:
    try:
        return check_url(url, allow_private=settings.webhook_allow_private_addresses)
    except UnsafeURL as refused:
        raise InvalidInput(f"url: {refused}") from None


def _unique(events: list[schemas.EventName]) -> list[str]:
    return list(dict.fromkeys(events))


def _audit(session: Session, actor: TenantPrincipal, action: str, webhook_id: str, details: dict[str, object]) -> None:
    audit.record(session, actor_key_id=actor.key_id, tenant_id=actor.tenant_id, action=action,
                 target_type="webhook", target_id=webhook_id, details=details)

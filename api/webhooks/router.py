from __future__ import annotations

from fastapi import APIRouter, Response

from sanacloud.api.deps import SessionDep, SettingsDep, TenantAdminDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page
from sanacloud.api.webhooks import schemas, service

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=AUTHENTICATED)


@router.post("", status_code=201, responses=problems(409))
def webhooks_create(body: schemas.WebhookCreate, response: Response, session: SessionDep, settings: SettingsDep,
                    actor: TenantAdminDep) -> schemas.WebhookCreated:
    """Register a URL for the tenant's events (tenant admins). The answer holds the signing secret, this once."""
    webhook, secret = service.create(session, settings, actor=actor, body=body)
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    return schemas.WebhookCreated(**schemas.WebhookOut.model_validate(webhook).model_dump(), secret=secret)


@router.get("")
def webhooks_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[schemas.WebhookOut]:
    rows, cursor = service.list_webhooks(session, actor=actor, params=page)
    return to_page(rows, cursor, schemas.WebhookOut)


@router.get("/{webhook_id}")
def webhooks_get(webhook_id: str, session: SessionDep, actor: TenantDep) -> schemas.WebhookOut:
    return schemas.WebhookOut.model_validate(service.get(session, actor=actor, webhook_id=webhook_id))


@router.patch("/{webhook_id}")
def webhooks_update(webhook_id: str, body: schemas.WebhookUpdate, session: SessionDep, settings: SettingsDep,
                    actor: TenantAdminDep) -> schemas.WebhookOut:
    """Change the URL or the events, or enable or disable it (tenant admins)."""
    webhook = service.update(session, settings, actor=actor, webhook_id=webhook_id, body=body)
    return schemas.WebhookOut.model_validate(webhook)


@router.delete("/{webhook_id}", status_code=204)
def webhooks_delete(webhook_id: str, session: SessionDep, actor: TenantAdminDep) -> Response:
    """Delete the webhook and its deliveries (tenant admins)."""
    service.delete(session, actor=actor, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def webhooks_list_deliveries(webhook_id: str, session: SessionDep, actor: TenantDep,
                             page: PageDep) -> Page[schemas.WebhookDeliveryOut]:
    """What was sent to the webhook, newest first: each delivery's status, attempts and last outcome."""
    rows, cursor = service.deliveries(session, actor=actor, webhook_id=webhook_id, params=page)
    return Page[schemas.WebhookDeliveryOut](items=rows, next_cursor=cursor)

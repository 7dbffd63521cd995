"""Dependencies every router shares: the request's session, and who is calling.

`SessionDep` owns the request's transaction: it commits after the route returns (before the
response is sent) and rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import ApiKey, Role, Tenant, TenantStatus
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import Forbidden, Unauthorized
from sanacloud.platform.security import api_key_matches, parse_api_key_prefix
from sanacloud.platform.settings import Settings, get_settings
from sanacloud.platform.storage import ObjectStore, get_object_store

LAST_USED_RESOLUTION = timedelta(minutes=1)


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ObjectStore, Depends(get_object_store)]


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    tenant_id: str | None
    member_id: str | None


@dataclass(frozen=True)
class TenantPrincipal(Principal):
    tenant_id: str


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    return token.strip()


def get_principal(request: Request, session: SessionDep) -> Principal:
    token = _bearer(request)
    prefix = parse_api_key_prefix(token)
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if key is None or not api_key_matches(token, key.key_hash) or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    if key.tenant_id is not None:
        tenant = session.get(Tenant, key.tenant_id)
        if tenant is None or tenant.status != TenantStatus.ACTIVE:
            raise Forbidden("this API key's tenant is disabled; ask a platform admin")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return Principal(key_id=key.id, role=Role(key.role), tenant_id=key.tenant_id, member_id=key.member_id)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_tenant(principal: PrincipalDep) -> TenantPrincipal:
    if principal.tenant_id is None:
        raise Forbidden("this route acts inside a tenant; use a tenant member's API key")
    return TenantPrincipal(principal.key_id, principal.role, principal.tenant_id, principal.member_id)


def require_tenant_admin(principal: Annotated[TenantPrincipal, Depends(require_tenant)]) -> TenantPrincipal:
    if principal.role is not Role.TENANT_ADMIN:
        raise Forbidden("only a tenant admin may do this")
    return principal


def require_platform_admin(principal: PrincipalDep) -> Principal:
    if principal.role is not Role.PLATFORM_ADMIN:
        raise Forbidden("only a platform admin may do this")
    return principal


TenantDep = Annotated[TenantPrincipal, Depends(require_tenant)]
TenantAdminDep = Annotated[TenantPrincipal, Depends(require_tenant_admin)]
AdminDep = Annotated[Principal, Depends(require_platform_admin)]

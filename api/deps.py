"""Dependencies every router shares: the request's session, and who is calling.

`SessionDep` owns the request's transaction: it commits after the route returns (before the
response is sent) and rolls back on any error. Who is calling was settled before the route ran
(`authentication.Authenticate`); the dependencies here only check what that caller may do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sanacloud.api.authentication import Principal
from sanacloud.platform.db.models import Role
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import Forbidden, Unauthorized
from sanacloud.platform.settings import Settings, get_settings
from sanacloud.platform.storage import ObjectStore, get_object_store


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ObjectStore, Depends(get_object_store)]


@dataclass(frozen=True)
class TenantPrincipal(Principal):
    tenant_id: str


def get_principal(request: Request) -> Principal:
    """Who `authentication.Authenticate` found this request to come from."""
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):  # a route outside /v1 that asked for a key
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    return principal


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

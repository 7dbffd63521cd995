"""A tenant's own members and API keys. Tenant admins manage everyone; members their own keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.members import schemas
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform import accounts, audit
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import ApiKey, Member, Role
from sanacloud.platform.db.scoped import get_owned, lock_tenant
from sanacloud.platform.errors import Conflict, Forbidden


def list_members(session: Session, *, actor: TenantPrincipal, params: PageParams) -> tuple[list[Member], str | None]:
    rows, cursor = paginate(session, select(Member).where(Member.tenant_id == actor.tenant_id), Member.id, params)
    return list(rows), cursor


def create_member(session: Session, *, actor: TenantPrincipal, body: schemas.MemberCreate) -> Member:
    exists = select(Member.id).where(Member.tenant_id == actor.tenant_id, Member.email == body.email)
    if session.scalar(exists):
        raise Conflict(f"{body.email} is already a member of this tenant")
    member = accounts.ensure_member(session, tenant_id=actor.tenant_id, email=body.email, role=Role(body.role))
    _audit(session, actor, "member.create", "member", member.id, body.model_dump())
    return member


def update_member(session: Session, *, actor: TenantPrincipal, member_id: str, body: schemas.MemberUpdate) -> Member:
    lock_tenant(session, actor.tenant_id)
    member = get_owned(session, Member, member_id, tenant_id=actor.tenant_id, kind="member")
    member.role = body.role
    for key in session.scalars(select(ApiKey).where(ApiKey.member_id == member.id)):
        key.role = body.role
    accounts.ensure_administrable(session, tenant_id=actor.tenant_id)
    _audit(session, actor, "member.update", "member", member.id, body.model_dump())
    return member


def delete_member(session: Session, *, actor: TenantPrincipal, member_id: str) -> None:
    lock_tenant(session, actor.tenant_id)
    member = get_owned(session, Member, member_id, tenant_id=actor.tenant_id, kind="member")
    accounts.revoke_keys_of(session, member_id=member.id)
    session.delete(member)
    accounts.ensure_administrable(session, tenant_id=actor.tenant_id)
    _audit(session, actor, "member.delete", "member", member.id, {"email": member.email})


def list_keys(session: Session, *, actor: TenantPrincipal, params: PageParams) -> tuple[list[ApiKey], str | None]:
    query = select(ApiKey).where(ApiKey.tenant_id == actor.tenant_id)
    if actor.role is not Role.TENANT_ADMIN:
        query = query.where(ApiKey.member_id == actor.member_id)
    rows, cursor = paginate(session, query, ApiKey.id, params)
    return list(rows), cursor


def create_key(session: Session, *, actor: TenantPrincipal, body: schemas.OwnKeyCreate) -> tuple[ApiKey, str]:
    member_id = body.member_id or actor.member_id
    if member_id != actor.member_id and actor.role is not Role.TENANT_ADMIN:
        raise Forbidden("only a tenant admin may issue keys for another member")
    member = get_owned(session, Member, member_id or "", tenant_id=actor.tenant_id, kind="member")
    key, plaintext = accounts.issue_key(session, name=body.name, member=member)
    _audit(session, actor, "key.create", "api_key", key.id, {"member_id": member.id})
    return key, plaintext


def revoke_key(session: Session, *, actor: TenantPrincipal, key_id: str) -> ApiKey:
    lock_tenant(session, actor.tenant_id)
    key = get_owned(session, ApiKey, key_id, tenant_id=actor.tenant_id, kind="API key")
    if key.member_id != actor.member_id and actor.role is not Role.TENANT_ADMIN:
        raise Forbidden("only a tenant admin may revoke another member's key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        accounts.ensure_administrable(session, tenant_id=actor.tenant_id)
        _audit(session, actor, "key.revoke", "api_key", key.id, {})
    return key


def _audit(session: Session, actor: TenantPrincipal, action: str, target_type: str, target_id: str,
           details: dict[str, object]) -> None:
    audit.record(session, actor_key_id=actor.key_id, tenant_id=actor.tenant_id, action=action,
                 target_type=target_type, target_id=target_id, details=details)

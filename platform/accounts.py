"""Tenants, members, API keys, GPU pools and quotas: shared by the admin API, the members API and the CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from sanacloud.platform import admin_bounds, audit, tenant_caps
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import ApiKey, GpuPool, Member, Model, Quota, Role, Tenant
from sanacloud.platform.errors import Conflict, InvalidInput, NotFound, echo
from sanacloud.platform.scheduler.admission import schedule_pool
from sanacloud.platform.security import generate_api_key

# The one rule for tenant and pool names, checked here for every caller and published in the API's
# schema: a DNS label, as they name queues (`train.<pool>`) and Kubernetes objects.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
NAME_RULE = "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"

MEMBER_ROLES = (Role.TENANT_ADMIN, Role.MEMBER)


def check_name(kind: str, name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise InvalidInput(f"{kind} name {echo(name)} is not allowed: use {NAME_RULE}")


def create_tenant(session: Session, *, name: str, fair_share_weight: float = 1.0) -> Tenant:
    check_name("tenant", name)
    admin_bounds.FAIR_SHARE_WEIGHT.check(fair_share_weight)
    if session.scalar(select(Tenant.id).where(Tenant.name == name)):
        raise Conflict(f"a tenant named {name!r} already exists")
    tenant = Tenant(name=name, fair_share_weight=fair_share_weight)
    session.add(tenant)
    session.flush()
    return tenant


def admin_create_tenant(session: Session, *, actor_key_id: str | None, name: str,
                        fair_share_weight: float = 1.0) -> Tenant:
    """An admin creates a tenant: audited."""
    tenant = create_tenant(session, name=name, fair_share_weight=fair_share_weight)
    audit.record(session, actor_key_id=actor_key_id, tenant_id=tenant.id, action="tenant.create", target_type="tenant",
                 target_id=tenant.id, details={"name": name, "fair_share_weight": fair_share_weight})
    return tenant


def get_tenant(session: Session, *, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound.of("tenant", tenant_id)
    return tenant


def find_tenant(session: Session, *, id_or_name: str) -> Tenant:
    tenant = session.get(Tenant, id_or_name) or session.scalar(select(Tenant).where(Tenant.name == id_or_name))
    if tenant is None:
        raise NotFound.of("tenant", id_or_name)
    return tenant


def ensure_member(session: Session, *, tenant_id: str, email: str, role: Role) -> Member:
    """The tenant's member with this email, created with `role` if new."""
    if role not in MEMBER_ROLES:
        raise InvalidInput(f"a member's role is {' or '.join(MEMBER_ROLES)}, not {role}; "
                           "platform admins belong to no tenant")
    member = session.scalar(select(Member).where(Member.tenant_id == tenant_id, Member.email == email))
    if member is None:
        tenant_caps.ensure_room(session, tenant_id=tenant_id, kind=tenant_caps.Kind.MEMBERS)
        member = Member(tenant_id=tenant_id, email=email, role=role)
        session.add(member)
        session.flush()
    return member


def issue_key(session: Session, *, name: str, member: Member | None = None) -> tuple[ApiKey, str]:
    """A new key for `member` (with the member's role), or a platform-admin key when no member.

    Returns the row and the plaintext key, which is never stored and cannot be shown again.
    """
    if member is not None:
        tenant_caps.ensure_room(session, tenant_id=member.tenant_id, kind=tenant_caps.Kind.API_KEYS)
    new = generate_api_key()
    key = ApiKey(
        name=name, prefix=new.prefix, key_hash=new.key_hash,
        tenant_id=member.tenant_id if member else None,
        member_id=member.id if member else None,
        role=member.role if member else Role.PLATFORM_ADMIN,
    )
    session.add(key)
    session.flush()
    return key, new.plaintext


def admin_create_member_key(session: Session, *, actor_key_id: str | None, tenant_id: str, email: str, role: Role,
                            name: str) -> tuple[ApiKey, str]:
    """An admin issues a key to a tenant's member, added with `role` if new: audited. A member who
    holds another role is refused rather than given a key of a role nobody asked for."""
    get_tenant(session, tenant_id=tenant_id)
    member = ensure_member(session, tenant_id=tenant_id, email=email, role=role)
    if member.role != role:
        raise Conflict(f"{email} is already a {member.role} of this tenant; ask for that role or change it")
    key, plaintext = issue_key(session, name=name, member=member)
    audit.record(session, actor_key_id=actor_key_id, tenant_id=tenant_id, action="key.create",
                 target_type="api_key", target_id=key.id, details={"email": email, "role": role.value})
    return key, plaintext


def admin_create_platform_key(session: Session, *, actor_key_id: str | None, name: str) -> tuple[ApiKey, str]:
    """An admin issues a platform-admin key: audited."""
    key, plaintext = issue_key(session, name=name)
    audit.record(session, actor_key_id=actor_key_id, tenant_id=None, action="key.create", target_type="api_key",
                 target_id=key.id, details={"role": Role.PLATFORM_ADMIN.value})
    return key, plaintext


def revoke_keys_of(session: Session, *, member_id: str) -> None:
    for key in session.scalars(select(ApiKey).where(ApiKey.member_id == member_id, ApiKey.revoked_at.is_(None))):
        key.revoked_at = utcnow()


def record_key_use(session: Session, *, key_id: str, now: datetime, resolution: timedelta) -> None:
    """Set the key's `last_used_at` to `now` unless it is newer than `resolution` ago, or another
    transaction holds the key's row: bookkeeping skips a locked row rather than wait for it."""
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - resolution)
    claimable = select(ApiKey.id).where(ApiKey.id == key_id, stale).with_for_update(skip_locked=True)
    session.execute(update(ApiKey).where(ApiKey.id.in_(claimable)).values(last_used_at=now))


def ensure_administrable(session: Session, *, tenant_id: str) -> None:
    """Refuses a change (already flushed, under `lock_tenant`) that leaves the tenant unable to
    administer itself: no tenant admin holding an active key."""
    administering = select(func.count()).select_from(ApiKey).join(Member, Member.id == ApiKey.member_id).where(
        ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None), Member.role == Role.TENANT_ADMIN)
    session.flush()
    if not session.scalar(administering):
        raise Conflict("a tenant needs at least one tenant admin holding an active API key; "
                       "promote another member and give them a key first")


def upsert_pool(session: Session, *, name: str, gpu_type: str, capacity_gpus: int, gpus_per_node: int = 1) -> GpuPool:
    check_name("pool", name)
    admin_bounds.GPU_TYPE.check(gpu_type)
    admin_bounds.CAPACITY_GPUS.check(capacity_gpus)
    admin_bounds.GPUS_PER_NODE.check(gpus_per_node)
    pool = session.scalar(select(GpuPool).where(GpuPool.name == name))
    if pool is None:
        pool = GpuPool(name=name, gpu_type=gpu_type, capacity_gpus=capacity_gpus, gpus_per_node=gpus_per_node)
        session.add(pool)
    else:
        pool.gpu_type, pool.capacity_gpus, pool.gpus_per_node = gpu_type, capacity_gpus, gpus_per_node
    session.flush()
    return pool


def put_pool(session: Session, *, actor_key_id: str | None, name: str, gpu_type: str, capacity_gpus: int,
             gpus_per_node: int = 1) -> GpuPool:
    """An admin creates or resizes a pool: audited, and more capacity may admit waiting jobs at once."""
    pool = upsert_pool(session, name=name, gpu_type=gpu_type, capacity_gpus=capacity_gpus, gpus_per_node=gpus_per_node)
    audit.record(session, actor_key_id=actor_key_id, tenant_id=None, action="pool.put", target_type="gpu_pool",
                 target_id=pool.id,
                 details={"gpu_type": gpu_type, "capacity_gpus": capacity_gpus, "gpus_per_node": gpus_per_node})
    schedule_pool(session, pool.id)
    return pool


def pool_for(session: Session, *, tenant_id: str, name: str | None) -> GpuPool:
    """The named pool, or the tenant's own: the one where it has the largest nominal quota."""
    if name is not None:
        pool = session.scalar(select(GpuPool).where(GpuPool.name == name))
        if pool is None:
            raise InvalidInput(f"unknown GPU pool {name!r}")
        return pool
    usable = session.scalars(select(GpuPool).join(Quota, Quota.pool_id == GpuPool.id).where(
        Quota.tenant_id == tenant_id, Quota.nominal_gpus + Quota.borrowing_limit_gpus > 0)
        .order_by(Quota.nominal_gpus.desc(), GpuPool.name)).all()
    if not usable:
        raise InvalidInput("your tenant has no GPU quota on any pool; ask a platform admin for one")
    return usable[0]


def get_pool_by_name(session: Session, *, name: str) -> GpuPool:
    pool = session.scalar(select(GpuPool).where(GpuPool.name == name))
    if pool is None:
        raise NotFound.of("GPU pool", name)
    return pool


def set_quota(session: Session, *, tenant_id: str, pool: GpuPool, nominal_gpus: int,
              borrowing_limit_gpus: int) -> Quota:
    admin_bounds.NOMINAL_GPUS.check(nominal_gpus)
    admin_bounds.BORROWING_LIMIT_GPUS.check(borrowing_limit_gpus)
    if nominal_gpus > pool.capacity_gpus:
        raise InvalidInput(f"nominal_gpus {nominal_gpus} exceeds pool {pool.name!r}'s capacity of "
                           f"{pool.capacity_gpus} GPUs")
    quota = session.scalar(select(Quota).where(Quota.tenant_id == tenant_id, Quota.pool_id == pool.id))
    if quota is None:
        quota = Quota(tenant_id=tenant_id, pool_id=pool.id)
        session.add(quota)
    quota.nominal_gpus, quota.borrowing_limit_gpus, quota.updated_at = nominal_gpus, borrowing_limit_gpus, utcnow()
    session.flush()
    return quota


def put_quota(session: Session, *, actor_key_id: str | None, tenant_id: str, pool: GpuPool, nominal_gpus: int,
              borrowing_limit_gpus: int) -> Quota:
    """An admin sets a tenant's quota on a pool: audited, and what now fits is admitted at once."""
    quota = set_quota(session, tenant_id=tenant_id, pool=pool, nominal_gpus=nominal_gpus,
                      borrowing_limit_gpus=borrowing_limit_gpus)
    audit.record(session, actor_key_id=actor_key_id, tenant_id=tenant_id, action="quota.put", target_type="quota",
                 target_id=quota.id, details={"pool": pool.name, "nominal_gpus": nominal_gpus,
                                              "borrowing_limit_gpus": borrowing_limit_gpus})
    schedule_pool(session, pool.id)
    return quota


def register_base_model(session: Session, *, name: str, family: str, uri: str) -> Model:
    """Record an operator-supplied base model (visible to every tenant); a name is registered once."""
    exists = select(Model.id).where(Model.name == name, Model.kind == "base", Model.tenant_id.is_(None))
    if session.scalar(exists):
        raise Conflict(f"a base model named {name!r} is already registered")
    model = Model(name=name, kind="base", family=family, uri=uri, status="ready")
    session.add(model)
    session.flush()
    return model

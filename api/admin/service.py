"""Platform administration: tenants, their keys, GPU pools, quotas and base models."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.api.admin import schemas
from sanacloud.api.authentication import Principal
from sanacloud.api.jobs.service import job_out
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform import accounts, audit, captioners
from sanacloud.platform.catalog import FAMILIES
from sanacloud.platform.db.models import ApiKey, GpuPool, Job, Model, Quota, Role, Tenant
from sanacloud.platform.errors import InvalidInput


def create_tenant(session: Session, *, actor: Principal, body: schemas.TenantCreate) -> Tenant:
    return accounts.admin_create_tenant(session, actor_key_id=actor.key_id, name=body.name,
                                        fair_share_weight=body.fair_share_weight)


def list_tenants(session: Session, *, params: PageParams) -> tuple[list[Tenant], str | None]:
    rows, cursor = paginate(session, select(Tenant), Tenant.id, params)
    return list(rows), cursor


def list_jobs(session: Session, *, params: PageParams, status: str | None, tenant_id: str | None,
              pool: str | None) -> tuple[list[schemas.AdminJobOut], str | None]:
    """Every tenant's jobs, newest first, each with its tenant's and pool's names."""
    query = select(Job)
    if status is not None:
        query = query.where(Job.status == status)
    if tenant_id is not None:
        query = query.where(Job.tenant_id == tenant_id)
    if pool is not None:
        query = query.where(Job.pool_id == accounts.get_pool_by_name(session, name=pool).id)
    rows, cursor = paginate(session, query, Job.id, params)
    tenants = {row.id: row.name for row in session.execute(select(Tenant.id, Tenant.name))}
    return [schemas.AdminJobOut.model_validate({**job_out(session, job).model_dump(), "tenant_id": job.tenant_id,
                                                "tenant": tenants.get(job.tenant_id, "")}) for job in rows], cursor


def update_tenant(session: Session, *, actor: Principal, tenant_id: str, body: schemas.TenantUpdate) -> Tenant:
    tenant = accounts.get_tenant(session, tenant_id=tenant_id)
    changes = body.model_dump(exclude_none=True)
    for field, value in changes.items():
        setattr(tenant, field, value)
    audit.record(session, actor_key_id=actor.key_id, tenant_id=tenant.id, action="tenant.update",
                 target_type="tenant", target_id=tenant.id, details=changes)
    return tenant


def create_key(session: Session, *, actor: Principal, tenant_id: str, body: schemas.KeyCreate) -> tuple[ApiKey, str]:
    return accounts.admin_create_member_key(session, actor_key_id=actor.key_id, tenant_id=tenant_id,
                                            email=body.email, role=Role(body.role), name=body.name)


def list_pools(session: Session) -> list[GpuPool]:
    return list(session.scalars(select(GpuPool).order_by(GpuPool.name)))


def put_pool(session: Session, *, actor: Principal, name: str, body: schemas.PoolPut) -> GpuPool:
    return accounts.put_pool(session, actor_key_id=actor.key_id, name=name, **body.model_dump())


def quota_out(quota: Quota, pool: GpuPool) -> schemas.QuotaOut:
    return schemas.QuotaOut(tenant_id=quota.tenant_id, pool=pool.name, nominal_gpus=quota.nominal_gpus,
                            borrowing_limit_gpus=quota.borrowing_limit_gpus)


def list_quotas(session: Session, *, tenant_id: str) -> list[schemas.QuotaOut]:
    accounts.get_tenant(session, tenant_id=tenant_id)
    rows = session.execute(select(Quota, GpuPool).join(GpuPool, Quota.pool_id == GpuPool.id)
                           .where(Quota.tenant_id == tenant_id).order_by(GpuPool.name))
    return [quota_out(q, p) for q, p in rows]


def put_quota(session: Session, *, actor: Principal, tenant_id: str, pool_name: str,
              body: schemas.QuotaPut) -> schemas.QuotaOut:
    accounts.get_tenant(session, tenant_id=tenant_id)
    pool = accounts.get_pool_by_name(session, name=pool_name)
    quota = accounts.put_quota(session, actor_key_id=actor.key_id, tenant_id=tenant_id, pool=pool,
                               **body.model_dump())
    return quota_out(quota, pool)


def base_model_out(model: Model) -> schemas.BaseModelOut:
    family = FAMILIES[model.family]
    return schemas.BaseModelOut(id=model.id, name=model.name, family=model.family, uri=model.uri,
                                status=model.status, native_resolution=family.spec.resolution,
                                resolutions=list(family.resolutions), created_at=model.created_at)


def list_base_models(session: Session) -> list[schemas.BaseModelOut]:
    rows = session.scalars(select(Model).where(Model.kind == "base", Model.tenant_id.is_(None)).order_by(Model.name))
    return [base_model_out(m) for m in rows]


def import_base_model(session: Session, *, actor: Principal, body: schemas.BaseModelImport) -> schemas.BaseModelOut:
    if body.family not in FAMILIES:
        raise InvalidInput(f"unknown model family {body.family!r}; known: {', '.join(sorted(FAMILIES))}")
    model = accounts.register_base_model(session, name=body.name, family=body.family, uri=body.uri)
    audit.record(session, actor_key_id=actor.key_id, tenant_id=None, action="base_model.import", target_type="model",
                 target_id=model.id, details=body.model_dump())
    return base_model_out(model)


def list_captioners(session: Session) -> list[schemas.CaptionerOut]:
    return [schemas.CaptionerOut.model_validate(m) for m in captioners.listed(session)]


def import_captioner(session: Session, *, actor: Principal, body: schemas.CaptionerImport) -> schemas.CaptionerOut:
    model = captioners.register(session, name=body.name, kind=body.kind, family=body.family, uri=body.uri)
    audit.record(session, actor_key_id=actor.key_id, tenant_id=None, action="captioner.import", target_type="model",
                 target_id=model.id, details=body.model_dump())
    return schemas.CaptionerOut.model_validate(model)

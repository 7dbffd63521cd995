from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sanacloud.api.admin import schemas, service
from sanacloud.api.deps import AdminDep, PrincipalDep, SessionDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page
from sanacloud.platform import accounts
from sanacloud.platform.jobs.status import JobStatus

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=AUTHENTICATED)
catalog_router = APIRouter(prefix="/v1", tags=["base models"], responses=AUTHENTICATED)

PoolName = Annotated[str, Path(pattern=accounts.NAME_PATTERN, description=accounts.NAME_RULE)]


@router.post("/tenants", status_code=201, responses=problems(409))
def admin_tenants_create(body: schemas.TenantCreate, session: SessionDep, admin: AdminDep) -> schemas.TenantOut:
    return schemas.TenantOut.model_validate(service.create_tenant(session, actor=admin, body=body))


@router.get("/tenants")
def admin_tenants_list(session: SessionDep, _: AdminDep, page: PageDep) -> Page[schemas.TenantOut]:
    rows, cursor = service.list_tenants(session, params=page)
    return to_page(rows, cursor, schemas.TenantOut)


@router.get("/jobs", responses=problems(404))
def admin_jobs_list(session: SessionDep, _: AdminDep, page: PageDep, status: JobStatus | None = None,
                    tenant_id: Annotated[str | None, Query(max_length=40)] = None,
                    pool: Annotated[str | None, Query(max_length=63)] = None) -> Page[schemas.AdminJobOut]:
    """Every tenant's jobs; `?status=queued` is the queue, each job with why it waits (`wait_reason`)."""
    rows, cursor = service.list_jobs(session, params=page, status=status, tenant_id=tenant_id, pool=pool)
    return Page[schemas.AdminJobOut](items=rows, next_cursor=cursor)


@router.get("/tenants/{tenant_id}")
def admin_tenants_get(tenant_id: str, session: SessionDep, _: AdminDep) -> schemas.TenantOut:
    return schemas.TenantOut.model_validate(accounts.get_tenant(session, tenant_id=tenant_id))


@router.patch("/tenants/{tenant_id}")
def admin_tenants_update(tenant_id: str, body: schemas.TenantUpdate, session: SessionDep,
                         admin: AdminDep) -> schemas.TenantOut:
    return schemas.TenantOut.model_validate(service.update_tenant(session, actor=admin, tenant_id=tenant_id, body=body))


@router.post("/tenants/{tenant_id}/keys", status_code=201, responses=problems(409))
def admin_keys_create(tenant_id: str, body: schemas.KeyCreate, session: SessionDep,
                      admin: AdminDep) -> schemas.KeyCreated:
    key, plaintext = service.create_key(session, actor=admin, tenant_id=tenant_id, body=body)
    return schemas.KeyCreated(**schemas.KeyOut.model_validate(key).model_dump(), key=plaintext)


@router.get("/tenants/{tenant_id}/quotas")
def admin_quotas_list(tenant_id: str, session: SessionDep, _: AdminDep) -> list[schemas.QuotaOut]:
    return service.list_quotas(session, tenant_id=tenant_id)


@router.put("/tenants/{tenant_id}/quotas/{pool}", responses=problems(404))
def admin_quotas_put(tenant_id: str, pool: PoolName, body: schemas.QuotaPut, session: SessionDep,
                     admin: AdminDep) -> schemas.QuotaOut:
    return service.put_quota(session, actor=admin, tenant_id=tenant_id, pool_name=pool, body=body)


@router.get("/pools")
def admin_pools_list(session: SessionDep, _: AdminDep) -> list[schemas.PoolOut]:
    return [schemas.PoolOut.model_validate(p) for p in service.list_pools(session)]


@router.put("/pools/{pool}")
def admin_pools_put(pool: PoolName, body: schemas.PoolPut, session: SessionDep, admin: AdminDep) -> schemas.PoolOut:
    return schemas.PoolOut.model_validate(service.put_pool(session, actor=admin, name=pool, body=body))


@router.post("/base-models", status_code=201, responses=problems(409))
def admin_base_models_import(body: schemas.BaseModelImport, session: SessionDep,
                             admin: AdminDep) -> schemas.BaseModelOut:
    return service.import_base_model(session, actor=admin, body=body)


@catalog_router.get("/base-models")
def base_models_list(session: SessionDep, _: PrincipalDep) -> list[schemas.BaseModelOut]:
    return service.list_base_models(session)


@router.post("/captioners", status_code=201, responses=problems(409))
def admin_captioners_import(body: schemas.CaptionerImport, session: SessionDep,
                            admin: AdminDep) -> schemas.CaptionerOut:
    """Register a captioner (an image-to-text model) or a CLIP scorer, for captioning jobs."""
    return service.import_captioner(session, actor=admin, body=body)


@catalog_router.get("/captioners")
def captioners_list(session: SessionDep, _: PrincipalDep) -> list[schemas.CaptionerOut]:
    """The captioners and scorers a captioning job may name."""
    return service.list_captioners(session)

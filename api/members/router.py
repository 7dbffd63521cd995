from __future__ import annotations

from fastapi import APIRouter, Response

from sanacloud.api.admin.schemas import KeyCreated, KeyOut
from sanacloud.api.deps import SessionDep, TenantAdminDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.members import schemas, service
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page

router = APIRouter(prefix="/v1", tags=["members and keys"], responses=AUTHENTICATED)


@router.get("/members")
def members_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[schemas.MemberOut]:
    rows, cursor = service.list_members(session, actor=actor, params=page)
    return to_page(rows, cursor, schemas.MemberOut)


@router.post("/members", status_code=201, responses=problems(409))
def members_create(body: schemas.MemberCreate, session: SessionDep, actor: TenantAdminDep) -> schemas.MemberOut:
    return schemas.MemberOut.model_validate(service.create_member(session, actor=actor, body=body))


@router.patch("/members/{member_id}", responses=problems(409))
def members_update(member_id: str, body: schemas.MemberUpdate, session: SessionDep,
                   actor: TenantAdminDep) -> schemas.MemberOut:
    return schemas.MemberOut.model_validate(service.update_member(session, actor=actor, member_id=member_id, body=body))


@router.delete("/members/{member_id}", status_code=204, responses=problems(409))
def members_delete(member_id: str, session: SessionDep, actor: TenantAdminDep) -> Response:
    service.delete_member(session, actor=actor, member_id=member_id)
    return Response(status_code=204)


@router.get("/keys")
def keys_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[KeyOut]:
    rows, cursor = service.list_keys(session, actor=actor, params=page)
    return to_page(rows, cursor, KeyOut)


@router.post("/keys", status_code=201, responses=problems(404, 409))
def keys_create(body: schemas.OwnKeyCreate, session: SessionDep, actor: TenantDep) -> KeyCreated:
    key, plaintext = service.create_key(session, actor=actor, body=body)
    return KeyCreated(**KeyOut.model_validate(key).model_dump(), key=plaintext)


@router.delete("/keys/{key_id}", responses=problems(409))
def keys_revoke(key_id: str, session: SessionDep, actor: TenantDep) -> KeyOut:
    return KeyOut.model_validate(service.revoke_key(session, actor=actor, key_id=key_id))

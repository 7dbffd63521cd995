"""Row lookups: tenant-scoped ones (a row of another tenant is indistinguishable from a missing
one), and rows locked for update."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Tenant
from sanacloud.platform.errors import NotFound

M = TypeVar("M")


def get_owned(session: Session, model: type[M], object_id: str, *, tenant_id: str, kind: str,
              for_update: bool = False) -> M:
    """The row of `model` with `object_id` owned by `tenant_id`, else NotFound (404)."""
    cls: Any = model
    query = select(cls).where(cls.id == object_id, cls.tenant_id == tenant_id)
    if for_update:  # and refresh a row this session already holds: it may have changed meanwhile
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound.of(kind, object_id)
    return row  # type: ignore[no-any-return]


def locked(session: Session, model: type[M], object_id: str) -> M | None:
    """The row with `object_id`, locked FOR UPDATE and refreshed (it may have changed since this
    session last read it); None when it does not exist."""
    cls: Any = model
    return session.scalar(
        select(cls).where(cls.id == object_id).with_for_update().execution_options(populate_existing=True))


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Serialises the changes to one tenant whose rule spans rows (its admins, its caps): take it
    before reading those rows. FOR NO KEY UPDATE, so that inserting rows that refer to the tenant
    (which takes KEY SHARE) is not blocked by it."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True))

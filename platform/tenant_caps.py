"""How much of each kind one tenant may create: API keys, members, datasets, endpoints, and jobs not
finished yet. The caps are settings (`SANACLOUD_MAX_<KIND>_PER_TENANT`), the same for every tenant,
and `/v1/usage` shows each with what the tenant uses of it.

A cap is checked under the tenant's lock, so that concurrent creations cannot pass it together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sanacloud.platform.db.models import ApiKey, Dataset, Endpoint, Job, Member
from sanacloud.platform.db.scoped import lock_tenant
from sanacloud.platform.errors import Conflict
from sanacloud.platform.jobs.status import TERMINAL
from sanacloud.platform.settings import Settings, get_settings


class Kind(StrEnum):
    API_KEYS = "api_keys"
    MEMBERS = "members"
    DATASETS = "datasets"
    ENDPOINTS = "endpoints"
    ACTIVE_JOBS = "active_jobs"


@dataclass(frozen=True)
class Counted:
    noun: str  # in messages
    table: type
    tenant_column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]
    only: ColumnElement[bool] | None = None


COUNTED = {
    Kind.API_KEYS: Counted("active API keys", ApiKey, ApiKey.tenant_id, ApiKey.revoked_at.is_(None)),
    Kind.MEMBERS: Counted("members", Member, Member.tenant_id),
    Kind.DATASETS: Counted("datasets", Dataset, Dataset.tenant_id),
    Kind.ENDPOINTS: Counted("endpoints", Endpoint, Endpoint.tenant_id),
    Kind.ACTIVE_JOBS: Counted("unfinished jobs", Job, Job.tenant_id, Job.status.not_in([str(s) for s in TERMINAL])),
}


def limit(settings: Settings, kind: Kind) -> int:
    return int(getattr(settings, f"max_{kind}_per_tenant"))


def setting_name(kind: Kind) -> str:
    return f"SANACLOUD_MAX_{kind.upper()}_PER_TENANT"


def used(session: Session, tenant_id: str, kind: Kind) -> int:
    counted = COUNTED[kind]
    query = select(func.count()).select_from(counted.table).where(counted.tenant_column == tenant_id)
    if counted.only is not None:
        query = query.where(counted.only)
    return int(session.scalar(query) or 0)


def ensure_room(session: Session, *, tenant_id: str, kind: Kind, settings: Settings | None = None) -> None:
    """Refuses creating one more of `kind` when the tenant has its cap's worth; takes the tenant lock."""
    cap = limit(settings or get_settings(), kind)
    lock_tenant(session, tenant_id)
    count = used(session, tenant_id, kind)
    if count >= cap:
        raise Conflict(f"this tenant has {count} {COUNTED[kind].noun}, its cap ({setting_name(kind)} = {cap}); "
                       "remove some, or ask a platform admin to raise the cap")


def usage(session: Session, tenant_id: str, settings: Settings | None = None) -> dict[Kind, tuple[int, int]]:
    """Each cap as (used, limit)."""
    settings = settings or get_settings()
    return {kind: (used(session, tenant_id, kind), limit(settings, kind)) for kind in Kind}

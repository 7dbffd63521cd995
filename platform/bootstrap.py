"""What a fresh installation needs: the shipped base model and captioner, and in embedded mode a ready tenant.

Every function here is idempotent: `sanacloud up` and `sanacloud migrate` call them each start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform import accounts, captioners
from sanacloud.platform.db.models import GpuPool, Model, Role, Tenant

BUILTIN_MODELS = {"sana-tiny": ("sana-tiny", "builtin://sana-tiny")}  # name: (family, uri)
EMBEDDED_TENANT = "default"
EMBEDDED_ADMIN_EMAIL = "admin@localhost"
EMBEDDED_POOL = "local"


def register_builtin_models(session: Session) -> None:
    for name, (family, uri) in BUILTIN_MODELS.items():
        exists = select(Model.id).where(Model.name == name, Model.kind == "base", Model.tenant_id.is_(None))
        if session.scalar(exists) is None:
            accounts.register_base_model(session, name=name, family=family, uri=uri)
    captioners.register_builtin(session)


@dataclass(frozen=True)
class EmbeddedCredentials:
    tenant: str
    email: str
    api_key: str


def ensure_embedded_tenant(session: Session, credentials_file: Path, *, gpu_type: str = "cpu") -> EmbeddedCredentials:
    """The default tenant, a local pool with a quota for it, and its admin's key.

    Embedded mode runs on the user's own machine, so the key is kept (mode 0600) in the data
    dir and printed at every start; a cluster never stores plaintext keys.
    """
    tenant = session.scalar(select(Tenant).where(Tenant.name == EMBEDDED_TENANT))
    if tenant is None:
        tenant = accounts.create_tenant(session, name=EMBEDDED_TENANT)
    pool = session.scalar(select(GpuPool).where(GpuPool.name == EMBEDDED_POOL)) or accounts.upsert_pool(
        session, name=EMBEDDED_POOL, gpu_type=gpu_type, capacity_gpus=1)
    accounts.set_quota(session, tenant_id=tenant.id, pool=pool, nominal_gpus=pool.capacity_gpus,
                       borrowing_limit_gpus=0)
    if credentials_file.exists():
        saved = json.loads(credentials_file.read_text())
        return EmbeddedCredentials(**saved)
    member = accounts.ensure_member(session, tenant_id=tenant.id, email=EMBEDDED_ADMIN_EMAIL, role=Role.TENANT_ADMIN)
    _key, plaintext = accounts.issue_key(session, name="embedded default", member=member)
    credentials = EmbeddedCredentials(tenant=tenant.name, email=member.email, api_key=plaintext)
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(credentials.__dict__))
    credentials_file.chmod(0o600)
    return credentials

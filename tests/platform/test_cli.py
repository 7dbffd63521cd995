"""The operator's CLI on an embedded data dir: migrate, then administer tenants, keys, pools, quotas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sanacloud.platform.cli.main import app
from sanacloud.platform.db.models import ApiKey, Model, Quota, Tenant
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.security import hash_api_key
from tests.api.conftest import reset_caches

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("SANACLOUD_DATABASE_URL", "SANACLOUD_STORAGE_BACKEND", "SANACLOUD_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANACLOUD_DATA_DIR", str(tmp_path))
    reset_caches()
    yield tmp_path
    reset_caches()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_migrate_creates_the_schema_and_registers_sana_tiny(data_dir: Path) -> None:
    assert "database at revision 0003" in invoke("migrate")
    assert "database at revision 0003" in invoke("migrate")  # a second run changes nothing
    with session_scope() as session:
        assert session.scalars(select(Model.name).where(Model.kind == "base")).all() == ["sana-tiny"]


def test_admin_commands_onboard_a_tenant(data_dir: Path) -> None:
    invoke("migrate")
    tenant_id = invoke("admin", "create-tenant", "acme", "--weight", "2")
    invoke("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "8")
    invoke("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "2", "--borrow", "1")
    key = invoke("admin", "create-key", "--tenant", "acme", "--email", "ops@acme.example.com", "--role",
                 "tenant_admin")
    admin_key = invoke("admin", "create-key", "--platform-admin")
    with session_scope() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None and tenant.fair_share_weight == 2
        quota = session.scalar(select(Quota).where(Quota.tenant_id == tenant_id))
        assert quota is not None and (quota.nominal_gpus, quota.borrowing_limit_gpus) == (2, 1)
        rows = {row.key_hash: row for row in session.scalars(select(ApiKey))}
        assert rows[hash_api_key(key)].role == "tenant_admin" and rows[hash_api_key(key)].tenant_id == tenant_id
        assert rows[hash_api_key(admin_key)].role == "platform_admin"


@pytest.mark.parametrize(("args", "says"), [
    (("admin", "create-tenant", "acme"), "already exists"),
    (("admin", "set-quota", "--tenant", "nobody", "--pool", "h100", "--nominal", "1"), "does not exist"),
    (("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "99"), "capacity"),
    (("admin", "create-key", "--tenant", "acme"), "--email"),
    (("admin", "create-key"), "--platform-admin"),
])
def test_admin_commands_explain_mistakes(data_dir: Path, args: tuple[str, ...], says: str) -> None:
    invoke("migrate")
    invoke("admin", "create-tenant", "acme")
    invoke("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "8")
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0 and says in result.output, result.output

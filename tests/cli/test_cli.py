"""The operator's CLI on an embedded data dir: migrate, then administer tenants, keys, pools, quotas.

Which platform a command acts on: --data-dir, else SANACLOUD_DATA_DIR, else the running
`sanacloud up`'s record, else ~/.sanacloud; SANACLOUD_DATABASE_URL in a cluster. A database that
is missing or not migrated is a one-line error, and nothing is created.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from sanacloud.cli.instance import RunningUp, recorded, records_dir
from sanacloud.cli.main import app
from sanacloud.cli.target import DATA_DIR_VARIABLE
from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import ApiKey, AuditEntry, Job, Model, Quota, Tenant
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.security import hash_api_key
from tests.helpers.backends import reset_caches
from tests.helpers.deadlines import scaled
from tests.helpers.processes import SANACLOUD
from tests.helpers.services import fresh_pg_database

runner = CliRunner()
LATEST = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
ADMIN_COMMANDS = [
    ("admin", "create-tenant", "acme"),
    ("admin", "create-key", "--platform-admin"),
    ("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "8"),
    ("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "1"),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user with no platform anywhere: an empty home and state folder, no SANACLOUD_ settings."""
    for name in ("SANACLOUD_DATABASE_URL", "SANACLOUD_STORAGE_BACKEND", "SANACLOUD_BROKER_URL", "SANACLOUD_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    reset_caches()
    yield tmp_path / "home"
    reset_caches()


@pytest.fixture
def data_dir(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> Result:
    # A command sets SANACLOUD_DATA_DIR for its own process (and its children); undo that afterwards.
    return runner.invoke(app, list(args), env={DATA_DIR_VARIABLE: os.environ.get(DATA_DIR_VARIABLE)})


def invoke(*args: str) -> str:
    """The command's output (stdout; notes go to stderr), which must succeed."""
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_migrate_creates_the_schema_and_registers_sana_tiny(data_dir: Path) -> None:
    assert f"database at revision {LATEST}" in invoke("migrate")
    assert f"database at revision {LATEST}" in invoke("migrate")  # a second run changes nothing
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


def queued_job(tenant_id: str, pool_id: str) -> str:
    with session_scope() as session:
        base = session.scalars(select(Model).where(Model.name == "sana-tiny")).one()
        job = Job(tenant_id=tenant_id, name="j", type="lora", status="queued", base_model_id=base.id,
                  pool_id=pool_id, gpus=1, requested={}, hyperparameters={})
        session.add(job)
        session.flush()
        return job.id


def job_statuses(*job_ids: str) -> list[str]:
    with session_scope() as session:
        return sorted(session.get_one(Job, job_id).status for job_id in job_ids)


def test_set_pool_and_set_quota_are_audited_and_admit_what_now_fits(data_dir: Path) -> None:
    invoke("migrate")
    tenant_id = invoke("admin", "create-tenant", "acme")
    pool_id = invoke("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "1")
    jobs = queued_job(tenant_id, pool_id), queued_job(tenant_id, pool_id)
    invoke("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "1", "--borrow", "1")
    assert job_statuses(*jobs) == ["admitted", "queued"]  # the other would borrow, but the pool is full
    invoke("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "2")
    assert job_statuses(*jobs) == ["admitted", "admitted"]
    with session_scope() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["pool.put", "quota.put"]))
                                  .order_by(AuditEntry.id)).all()
        quota_id = session.scalars(select(Quota.id)).one()
    assert [(e.action, e.target_id, e.tenant_id, e.actor_key_id) for e in entries] == [
        ("pool.put", pool_id, None, None), ("quota.put", quota_id, tenant_id, None), ("pool.put", pool_id, None, None)]
    assert entries[1].details == {"pool": "h100", "nominal_gpus": 1, "borrowing_limit_gpus": 1}
    assert entries[2].details == {"gpu_type": "h100", "capacity_gpus": 2, "gpus_per_node": 1}


def test_create_tenant_and_create_key_are_audited_as_the_admin_api_audits_them(data_dir: Path) -> None:
    invoke("migrate")
    tenant_id = invoke("admin", "create-tenant", "acme", "--weight", "2")
    key = invoke("admin", "create-key", "--tenant", "acme", "--email", "ops@acme.example.com", "--role", "tenant_admin")
    admin_key = invoke("admin", "create-key", "--platform-admin")
    refused = run("admin", "create-key", "--tenant", "acme", "--email", "ops@acme.example.com")  # --role member
    assert refused.exit_code == 1 and "ops@acme.example.com is already a tenant_admin" in refused.stderr, refused.output
    with session_scope() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        key_ids = {row.key_hash: row.id for row in session.scalars(select(ApiKey))}
    assert [(e.action, e.target_id, e.tenant_id, e.actor_key_id, e.details) for e in entries] == [
        ("tenant.create", tenant_id, tenant_id, None, {"name": "acme", "fair_share_weight": 2.0}),
        ("key.create", key_ids[hash_api_key(key)], tenant_id, None,
         {"email": "ops@acme.example.com", "role": "tenant_admin"}),
        ("key.create", key_ids[hash_api_key(admin_key)], None, None, {"role": "platform_admin"})]
    assert len(key_ids) == 2  # the refused key was not issued


@pytest.mark.parametrize(("args", "says"), [
    (("admin", "create-tenant", "acme"), "already exists"),
    (("admin", "create-tenant", "Acme Corp"), "lowercase letters, digits and '-'"),
    (("admin", "create-tenant", "zero", "--weight", "0"), "fair-share weight must be greater than 0 and at most 1,000"),
    (("admin", "create-tenant", "heavy", "--weight", "1000.5"), "not 1000.5"),
    (("admin", "create-tenant", "odd", "--weight", "nan"), "fair-share weight must be greater than 0"),
    (("admin", "set-pool", "a100", "--gpu-type", "a100", "--capacity", "-1"), "GPU capacity must be at least 0"),
    (("admin", "set-pool", "a100", "--gpu-type", "a100", "--capacity", "100001"), "at most 100,000, not 100001"),
    (("admin", "set-pool", "a100", "--gpu-type", "a100", "--capacity", "8", "--gpus-per-node", "0"),
     "GPUs per node must be at least 1 and at most 64, not 0"),
    (("admin", "set-pool", "a100", "--gpu-type", "a100", "--capacity", "8", "--gpus-per-node", "65"), "not 65"),
    (("admin", "set-pool", "a100", "--gpu-type", "", "--capacity", "8"), "GPU type must be 1 to 63 characters"),
    (("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "-1"),
     "nominal GPUs must be at least 0"),
    (("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "1", "--borrow", "-1"),
     "borrowing limit must be at least 0"),
    (("admin", "create-key", "--tenant", "acme", "--email", "x@acme.example.com", "--role", "platform_admin"),
     "platform admins belong to no tenant"),
    (("admin", "set-quota", "--tenant", "nobody", "--pool", "h100", "--nominal", "1"), "does not exist"),
    (("admin", "set-quota", "--tenant", "acme", "--pool", "h100", "--nominal", "99"), "capacity"),
    (("admin", "create-key", "--tenant", "acme"), "--email"),
    (("admin", "create-key"), "--platform-admin"),
])
def test_admin_commands_explain_mistakes(data_dir: Path, args: tuple[str, ...], says: str) -> None:
    invoke("migrate")
    invoke("admin", "create-tenant", "acme")
    invoke("admin", "set-pool", "h100", "--gpu-type", "h100", "--capacity", "8")
    result = run(*args)
    assert result.exit_code != 0 and says in result.stderr and not result.stdout, result.output


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert not result.stdout and "Traceback" not in result.output, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: "), line
    return line


@pytest.mark.parametrize("args", ADMIN_COMMANDS)
def test_a_missing_platform_is_one_line_that_says_what_to_run_and_nothing_is_created(
        home: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    default = home / ".sanacloud"
    line = one_error_line(run(*args))
    assert f"no sanacloud database in data dir {default} (the default)" in line and "`sanacloud up`" in line
    elsewhere = tmp_path / "elsewhere"
    line = one_error_line(run(*args, "--data-dir", str(elsewhere)))
    assert f"`sanacloud up --data-dir {elsewhere}`" in line and f"`sanacloud migrate --data-dir {elsewhere}`" in line
    assert not default.exists() and not elsewhere.exists()


@pytest.mark.parametrize("command", ["api", "worker", "beat"])
def test_the_platform_s_processes_do_not_start_without_its_database(home: Path, tmp_path: Path, command: str) -> None:
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")}
    try:
        started = subprocess.run([SANACLOUD, command], env=env, capture_output=True, text=True, timeout=scaled(60))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`sanacloud {command}` started without a database") from None
    assert started.returncode == 1 and not started.stdout, started.stderr
    assert started.stderr.startswith(f"error: no sanacloud database in data dir {home / '.sanacloud'} (the default)")
    assert len(started.stderr.splitlines()) == 1 and not (home / ".sanacloud").exists(), started.stderr


def test_a_database_behind_the_migrations_is_refused_until_migrate(data_dir: Path) -> None:
    data_dir.mkdir()
    sqlite3.connect(data_dir / "sanacloud.db").close()  # an empty file, as an old CLI left behind
    line = one_error_line(run("admin", "create-tenant", "acme"))
    assert "has no sanacloud schema: run `sanacloud migrate`" in line, line
    migrate.upgrade(f"sqlite:///{data_dir / 'sanacloud.db'}", "0001")
    line = one_error_line(run("admin", "create-tenant", "acme"))
    assert f"is at revision 0001, not {LATEST}: run `sanacloud migrate`" in line, line
    invoke("migrate")
    assert invoke("admin", "create-tenant", "acme").startswith("ten_")


def test_a_database_a_newer_release_migrated_is_used(data_dir: Path) -> None:
    invoke("migrate")
    with sqlite3.connect(data_dir / "sanacloud.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    assert invoke("admin", "create-tenant", "acme").startswith("ten_")


def tenants_in(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "sanacloud.db") as connection:
        return [name for (name,) in connection.execute("SELECT name FROM tenants ORDER BY name")]


def migrated(data_dir: Path) -> Path:
    invoke("migrate", "--data-dir", str(data_dir))
    return data_dir


def test_the_data_dir_is_the_option_then_the_variable_then_the_running_up_then_the_default(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = (tmp_path / "named", tmp_path / "variable", tmp_path / "up", home / ".sanacloud")
    named, from_variable, of_up, default = (migrated(folder) for folder in folders)

    result = run("admin", "create-tenant", "by-default")
    assert result.exit_code == 0 and f"using data dir {default} (the default)" in result.stderr, result.output
    with recorded(RunningUp(of_up, "http://127.0.0.1:8123", os.getpid())):
        result = run("admin", "create-tenant", "by-up")
        assert f"using data dir {of_up} (of `sanacloud up` at http://127.0.0.1:8123, pid {os.getpid()})" \
            in result.stderr, result.output
        monkeypatch.setenv(DATA_DIR_VARIABLE, str(from_variable))
        result = run("admin", "create-tenant", "by-variable")
        assert f"using data dir {from_variable} (from SANACLOUD_DATA_DIR)" in result.stderr, result.output
        result = run("admin", "create-tenant", "by-option", "--data-dir", str(named))
        assert result.exit_code == 0 and not result.stderr, result.output
    assert [tenants_in(d) for d in (named, from_variable, of_up, default)] == [
        ["by-option"], ["by-variable"], ["by-up"], ["by-default"]]


def test_records_of_ups_that_are_gone_are_ignored_and_two_running_ups_need_a_choice(
        home: Path, tmp_path: Path) -> None:
    first, second = migrated(tmp_path / "first"), migrated(tmp_path / "second")
    dead_pid = _dead_pid()
    with recorded(RunningUp(first, "http://127.0.0.1:8001", dead_pid)):
        line = one_error_line(run("admin", "create-tenant", "acme"))
        assert "(the default)" in line and not (records_dir() / f"{dead_pid}.json").exists()
    with recorded(RunningUp(first, "http://127.0.0.1:8001", os.getpid())), \
            recorded(RunningUp(second, "http://127.0.0.1:8002", os.getppid())):
        line = one_error_line(run("admin", "create-tenant", "acme"))
        assert f"several `sanacloud up` are running ({first}, {second}): choose one with --data-dir" in line \
            or f"({second}, {first})" in line, line


def _dead_pid() -> int:
    """The pid of a process that has ended (as a killed `up`'s record names)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_in_a_cluster_the_database_url_decides(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_pg_database() as url:
        monkeypatch.setenv("SANACLOUD_DATABASE_URL", url)
        line = one_error_line(run("admin", "create-tenant", "acme", "--data-dir", str(tmp_path / "ignored")))
        assert "has no sanacloud schema: run `sanacloud migrate`" in line and "--data-dir does not apply" in line
        assert f"database at revision {LATEST}" in invoke("migrate")
        result = run("admin", "create-tenant", "acme")
        assert result.exit_code == 0 and result.stdout.startswith("ten_"), result.output
        assert "(from SANACLOUD_DATABASE_URL)" in result.stderr, result.stderr
    assert not (tmp_path / "ignored").exists() and not (home / ".sanacloud").exists()

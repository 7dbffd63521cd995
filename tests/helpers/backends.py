"""An API client on each backend: PostgreSQL + S3 (moto) as in a cluster, SQLite + a local folder
as in embedded mode. Each test starts with empty tables and an empty object store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from sanacloud.platform import accounts, bootstrap
from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import Base, Role
from sanacloud.platform.db.session import get_engine, get_sessionmaker, session_scope
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import ObjectStore, get_object_store

BACKENDS = ["postgres-s3", "sqlite-local"]


@dataclass(frozen=True)
class Backend:
    name: str
    env: dict[str, str]


def reset_caches() -> None:
    for cached in (get_settings, get_engine, get_sessionmaker, get_object_store):
        cached.cache_clear()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    data_dir = tmp_path_factory.mktemp(request.param)
    env = {"SANACLOUD_DATA_DIR": str(data_dir), "SANACLOUD_PUBLIC_URL": "http://testserver",
           "SANACLOUD_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
           # Tests send many requests with one key at once; test_request_limits.py tests the limit itself.
           "SANACLOUD_RATE_LIMIT_BURST": "1000000"}
    if request.param == "postgres-s3":
        env.update({"SANACLOUD_DATABASE_URL": request.getfixturevalue("pg_url"), "SANACLOUD_STORAGE_BACKEND": "s3",
                    "SANACLOUD_S3_ENDPOINT": request.getfixturevalue("s3_server"),
                    "SANACLOUD_S3_ACCESS_KEY": "testing", "SANACLOUD_S3_SECRET_KEY": "testing-secret",
                    "SANACLOUD_S3_BUCKET": f"sanacloud-{os.getpid()}"})
        migrate.upgrade(env["SANACLOUD_DATABASE_URL"])
    else:
        migrate.upgrade(f"sqlite:///{data_dir / 'sanacloud.db'}")
    return Backend(request.param, env)


@pytest.fixture
def configured(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    _empty_everything()
    with session_scope() as session:
        bootstrap.register_builtin_models(session)
    yield backend
    get_engine().dispose()
    reset_caches()


def _empty_everything() -> None:
    with session_scope() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "models":  # promoted models before the bases they refer to
                session.execute(delete(table).where(table.c.base_model_id.isnot(None)))
            session.execute(delete(table))
    store().delete_prefix("")


def store() -> ObjectStore:
    return get_object_store()


@pytest.fixture
def client(configured: Backend) -> Iterator[TestClient]:
    from sanacloud.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def app_with(configured: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Builds the app under extra settings (environment variables without the prefix)."""
    from sanacloud.api.app import create_app

    def build(**settings: str) -> TestClient:
        for name, value in settings.items():
            monkeypatch.setenv(f"SANACLOUD_{name.upper()}", value)
        reset_caches()
        return TestClient(create_app(), raise_server_exceptions=False)

    yield build
    reset_caches()


@dataclass(frozen=True)
class TenantCtx:
    id: str
    name: str
    headers: dict[str, str]  # a tenant admin's key
    member_headers: dict[str, str]  # a plain member's key


@pytest.fixture
def admin_headers(configured: Backend) -> dict[str, str]:
    with session_scope() as session:
        _key, plaintext = accounts.issue_key(session, name="test admin")
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def make_tenant(configured: Backend):  # type: ignore[no-untyped-def]
    """Creates tenants with a tenant-admin key, a member key, and 2 GPUs of quota on pool 'gpu'."""

    def make(name: str, *, nominal_gpus: int = 2, borrow: int = 0) -> TenantCtx:
        with session_scope() as session:
            tenant = accounts.create_tenant(session, name=name)
            pool = accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=8)
            accounts.set_quota(session, tenant_id=tenant.id, pool=pool, nominal_gpus=nominal_gpus,
                               borrowing_limit_gpus=borrow)
            admin = accounts.ensure_member(session, tenant_id=tenant.id, email=f"admin@{name}.test",
                                           role=Role.TENANT_ADMIN)
            member = accounts.ensure_member(session, tenant_id=tenant.id, email=f"member@{name}.test", role=Role.MEMBER)
            _k, admin_key = accounts.issue_key(session, name="admin", member=admin)
            _k, member_key = accounts.issue_key(session, name="member", member=member)
            return TenantCtx(tenant.id, name, {"Authorization": f"Bearer {admin_key}"},
                             {"Authorization": f"Bearer {member_key}"})

    return make


@pytest.fixture
def tenant(make_tenant) -> TenantCtx:  # type: ignore[no-untyped-def]
    return make_tenant("acme")


def object_keys(prefix: str = "") -> list[str]:
    return [info.key for info in store().list(prefix)]


def data_dir(backend: Backend) -> Path:
    return Path(backend.env["SANACLOUD_DATA_DIR"])

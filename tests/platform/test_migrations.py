"""The Alembic revisions build exactly the models' schema, on SQLite and PostgreSQL, and tear it down.

`test_schema_matches_models` is the guard against a model changed without a migration: it fails
with the list of differences Alembic's autogenerate would write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, delete, insert, inspect, pool, select
from sqlalchemy.engine import Connection

from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import Base
from tests.helpers.services import fresh_pg_database

APP_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, of its own, so other tests' schema is never touched."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with fresh_pg_database() as url:
        yield url


def table_names(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_diff(url: str) -> list[Any]:
    """What autogenerate would change to bring the database to the models (empty when in step)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def test_a_new_database_is_at_no_revision(db_url: str) -> None:
    assert head(db_url) is not None
    assert migrate.current(db_url) is None


def test_upgrade_creates_every_table(db_url: str) -> None:
    assert table_names(db_url) == set()
    migrate.upgrade(db_url)
    assert table_names(db_url) == APP_TABLES | {"alembic_version"}
    assert migrate.current(db_url) == head(db_url)


def test_schema_matches_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert schema_diff(db_url) == []


def test_downgrade_drops_everything_and_upgrade_works_again(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url)
    assert table_names(db_url) <= {"alembic_version"}
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url)
    assert table_names(db_url) == APP_TABLES | {"alembic_version"}
    assert schema_diff(db_url) == []


def promoted_model_at_0003(url: str) -> None:
    """A database at revision 0003 holding one model promoted from step 300 of job_1."""
    migrate.upgrade(url, "0003")
    now = {"created_at": datetime.now(UTC)}
    rows: list[tuple[str, dict[str, Any]]] = [
        ("tenants", {"id": "ten_1", "name": "acme", "status": "active", "fair_share_weight": 1.0, **now}),
        ("gpu_pools", {"id": "pool_1", "name": "gpu", "gpu_type": "h100", "gpus_per_node": 1, "capacity_gpus": 1,
                       **now}),
        ("models", {"id": "mdl_base", "name": "sana-tiny", "kind": "base", "family": "sana-tiny", "uri": "builtin://",
                    "status": "ready", **now}),
        ("jobs", {"id": "job_1", "tenant_id": "ten_1", "name": "j", "type": "lora", "status": "succeeded",
                  "base_model_id": "mdl_base", "pool_id": "pool_1", "gpus": 1, "priority": 0, "requested": {},
                  "hyperparameters": {}, "updated_at": now["created_at"], **now}),
        ("checkpoints", {"id": "ckpt_1", "job_id": "job_1", "tenant_id": "ten_1", "step": 300, "object_prefix": "p/",
                         "metrics": {}, "sample_keys": [], **now}),
        ("models", {"id": "mdl_mine", "tenant_id": "ten_1", "name": "mine", "kind": "lora", "family": "sana-tiny",
                    "base_model_id": "mdl_base", "source_checkpoint_id": "ckpt_1", "uri": "store://m/",
                    "status": "ready", **now}),
    ]
    with connected(url) as conn:
        tables = reflected(conn)
        for table, values in rows:
            conn.execute(insert(tables[table]).values(**values))


@contextmanager
def connected(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def reflected(conn: Connection) -> dict[str, Any]:
    metadata = MetaData()
    metadata.reflect(conn)
    return dict(metadata.tables)


def source_of(url: str, model_id: str) -> dict[str, Any]:
    with connected(url) as conn:
        models = reflected(conn)["models"]
        row = conn.execute(select(models).where(models.c.id == model_id)).one()._asdict()
        return {name: value for name, value in row.items() if name.startswith("source_")}


def test_0004_keeps_a_models_source_after_its_job_is_deleted_and_downgrades(db_url: str) -> None:
    promoted_model_at_0003(db_url)
    migrate.upgrade(db_url)
    source = {"source_job_id": "job_1", "source_checkpoint_id": "ckpt_1", "source_step": 300}
    assert source_of(db_url, "mdl_mine") == source  # filled in from the checkpoint
    with connected(db_url) as conn:  # the job and its checkpoint (SQLite without its foreign-key pragma here)
        tables = reflected(conn)
        conn.execute(delete(tables["checkpoints"]).where(tables["checkpoints"].c.job_id == "job_1"))
        conn.execute(delete(tables["jobs"]).where(tables["jobs"].c.id == "job_1"))
    assert source_of(db_url, "mdl_mine") == source

    migrate.downgrade(db_url, "0003")
    assert source_of(db_url, "mdl_mine") == {"source_checkpoint_id": None}  # the key is back; the checkpoint gone
    with connected(db_url) as conn:
        foreign_keys = inspect(conn).get_foreign_keys("models")
    assert ["source_checkpoint_id"] in [key["constrained_columns"] for key in foreign_keys]


def test_migrating_leaves_logging_and_stdout_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_logger = logging.getLogger("sanacloud")
    before = (list(logging.root.handlers), logging.root.level, app_logger.level, app_logger.disabled)
    url = f"sqlite:///{tmp_path / 'quiet.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url)
    assert (list(logging.root.handlers), logging.root.level, app_logger.level, app_logger.disabled) == before
    assert capsys.readouterr().out == ""

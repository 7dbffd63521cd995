"""The Alembic revisions build exactly the models' schema, on SQLite and PostgreSQL, and tear it down.

`test_schema_matches_models` is the guard against a model changed without a migration: it fails
with the list of differences Alembic's autogenerate would write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool

from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import Base
from tests.conftest import fresh_pg_database

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


def test_migrating_leaves_logging_and_stdout_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_logger = logging.getLogger("sanacloud")
    before = (list(logging.root.handlers), logging.root.level, app_logger.level, app_logger.disabled)
    url = f"sqlite:///{tmp_path / 'quiet.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url)
    assert (list(logging.root.handlers), logging.root.level, app_logger.level, app_logger.disabled) == before
    assert capsys.readouterr().out == ""

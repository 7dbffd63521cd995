"""Schema migrations (Alembic), configured in code: `upgrade`, `downgrade` and `current` by URL.

The scripts live in the `sanacloud.migrations` package (the repository's `migrations/` folder).
Nothing here touches logging configuration: Alembic's loggers propagate to whatever the
application set up, and the INFO lines they write stay silent unless it asked for INFO.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool


def script_location() -> Path:
    """The `migrations/` folder: found through the import system, so it works installed or editable."""
    spec = importlib.util.find_spec("sanacloud.migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # An editable install made before migrations/ held Python files does not map it yet;
    # both the repository and an installed wheel keep it two levels above this file's folder.
    fallback = Path(__file__).resolve().parents[2] / "migrations"
    if (fallback / "env.py").is_file():
        return fallback
    raise RuntimeError("cannot find the sanacloud.migrations package (reinstall sanacloud)")


def alembic_config(url: str) -> Config:
    """An Alembic config for the database at `url` (a SQLAlchemy URL with its password, if any)."""
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(script_location()))
    # ConfigParser interpolates '%': escape it, since URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

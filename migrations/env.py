"""Alembic environment, configured in code by `sanacloud.platform.db.migrate` (there is no alembic.ini).

The database URL comes from the config's `sqlalchemy.url`; a caller may instead hand over an open
connection in `config.attributes["connection"]`. Logging is left to the application: no fileConfig.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection, create_engine, pool
from sqlalchemy.dialects.postgresql import JSONB

from sanacloud.platform.db.base import UTCDateTime
from sanacloud.platform.db.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render application column types as plain SQLAlchemy ones, so revisions never import them."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    variants = getattr(obj, "_variant_mapping", {})
    if isinstance(obj, JSON) and isinstance(variants.get("postgresql"), JSONB):
        # Alembic's own rendering writes `astext_type=Text()` without the `sa.` prefix.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,  # ALTERs become table copies on SQLite
    "compare_type": True,
    "render_item": render_item,
}


def run_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        run_on(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set the config's sqlalchemy.url")
    # A plain engine: SQLite's foreign_keys pragma stays off, as batch table copies need.
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

"""Readiness: can this process reach what serving a request needs (the database and the broker)?

Liveness is not decided here: a process that answers at all is alive, whatever its dependencies do,
so that an orchestrator never restarts an API process for a database outage (or in the middle of
an upload). Each check connects afresh with a short timeout, outside the connection pool, so that
a busy pool neither delays the answer nor is made busier by it.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sqlalchemy import Engine, create_engine, pool, text

from sanacloud.platform.settings import Settings

CHECK_TIMEOUT_S = 3


@lru_cache
def _probe_engine(url: str) -> Engine:
    connect_args: dict[str, object] = {}
    if not url.startswith("sqlite"):
        connect_args = {"connect_timeout": CHECK_TIMEOUT_S, "options": f"-c statement_timeout={CHECK_TIMEOUT_S * 1000}"}
    return create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)


def _database(settings: Settings) -> None:
    with _probe_engine(settings.effective_database_url).connect() as connection:
        connection.execute(text("SELECT 1"))


def _broker(settings: Settings) -> None:
    from kombu.connection import Connection

    from sanacloud.platform.queues import celery_config

    config = celery_config(settings)  # for the filesystem transport, this makes (or finds) its folders
    if settings.effective_broker_url.startswith("filesystem://"):
        if not os.access(settings.broker_dir / "queue", os.W_OK):
            raise PermissionError("the broker folder is not writable")
        return
    with Connection(config["broker_url"], transport_options=config["broker_transport_options"],  # type: ignore[no-untyped-call]
                    connect_timeout=CHECK_TIMEOUT_S) as connection:
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)


CHECKS = {"database": _database, "broker": _broker}


def unready(settings: Settings) -> dict[str, str]:
    """What this process cannot reach, each with the kind of failure (never a URL: it may hold a password)."""
    problems = {}
    for name, check in CHECKS.items():
        try:
            check(settings)
        except Exception as error:  # any failure to reach it means not ready
            problems[name] = type(error).__name__
    return problems

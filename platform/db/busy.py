"""Tells a database that ran out of time from any other database failure.

Every PostgreSQL session has lock and statement timeouts (settings `DB_LOCK_TIMEOUT_S`,
`DB_STATEMENT_TIMEOUT_S`), and a process waits `DB_POOL_TIMEOUT_S` at most for a pooled connection;
SQLite waits its busy timeout for the write lock. A request that ran into one of them changed
nothing (its transaction rolled back) and may simply be retried.
"""

from __future__ import annotations

from sqlalchemy import exc

from sanacloud.platform.errors import Busy

RETRY_AFTER_S = 2
LOCK_NOT_AVAILABLE, QUERY_CANCELED = "55P03", "57014"  # PostgreSQL SQLSTATEs


def as_busy(error: BaseException) -> Busy | None:
    """The retryable refusal that `error` amounts to, or None when it is not a matter of time."""
    if isinstance(error, exc.TimeoutError):  # the connection pool's wait
        return Busy("every database connection of this API process is in use (SANACLOUD_DB_POOL_SIZE, "
                    "SANACLOUD_DB_MAX_OVERFLOW); retry shortly", retry_after_s=RETRY_AFTER_S)
    if not isinstance(error, exc.OperationalError):
        return None
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return Busy("the data this request changes was locked by other requests for longer than "
                    "SANACLOUD_DB_LOCK_TIMEOUT_S; nothing was changed, retry shortly", retry_after_s=RETRY_AFTER_S)
    if sqlstate == QUERY_CANCELED:
        return Busy("the database took longer than SANACLOUD_DB_STATEMENT_TIMEOUT_S; nothing was changed, "
                    "retry shortly", retry_after_s=RETRY_AFTER_S)
    if "database is locked" in str(error.orig):  # SQLite's busy timeout
        return Busy("the database is busy with another write; nothing was changed, retry shortly",
                    retry_after_s=RETRY_AFTER_S)
    return None

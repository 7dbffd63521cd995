"""Periodic housekeeping tasks, run by beat on the maintenance queue."""

from __future__ import annotations

import logging

from sanacloud.platform import idempotency
from sanacloud.platform.db.session import session_scope
from sanacloud.workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="sanacloud.maintenance.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    with session_scope() as session:
        removed = idempotency.purge_expired(session)
    log.info("purged %d expired idempotency keys", removed)
    return removed

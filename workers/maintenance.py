"""Periodic housekeeping, run by beat on the maintenance queue: the scheduler's tick (reap lost
workers' jobs, admit, prune checkpoints) and expired idempotency keys."""

from __future__ import annotations

import logging

from sanacloud.platform import idempotency
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.lifecycle import redispatch_unclaimed, requeue_lost
from sanacloud.platform.jobs.retention import prune_checkpoints
from sanacloud.platform.queues import TICK_TASK
from sanacloud.platform.scheduler.admission import schedule_all
from sanacloud.platform.serving.generations import cool_abandoned
from sanacloud.platform.settings import get_settings
from sanacloud.workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="sanacloud.maintenance.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    with session_scope() as session:
        removed = idempotency.purge_expired(session)
    log.info("purged %d expired idempotency keys", removed)
    return removed


@app.task(name=TICK_TASK)
def tick() -> dict[str, int]:
    settings = get_settings()
    with session_scope() as session:
        requeued = requeue_lost(session, timeout_s=settings.heartbeat_timeout_s)
    with session_scope() as session:
        resent = redispatch_unclaimed(session, older_than_s=settings.dispatch_retry_s)
    with session_scope() as session:
        cooled = cool_abandoned(session, grace_s=settings.heartbeat_timeout_s)
    with session_scope() as session:
        plans = schedule_all(session)
    with session_scope() as session:
        pruned = prune_checkpoints(session, keep_latest=settings.keep_checkpoints)
    summary = {"requeued": len(requeued), "resent": len(resent), "cooled_endpoints": len(cooled),
               "admitted": sum(len(p.admit) for p in plans),
               "preempted": sum(len(p.preempt) for p in plans), "pruned_checkpoints": pruned}
    if any(summary.values()):
        log.info("tick: %s", summary)
    return summary

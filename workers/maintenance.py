"""Periodic housekeeping, run by beat on the maintenance queue: the scheduler's tick (reap lost
workers' jobs, admit, prune checkpoints), expired idempotency keys, and what killed writers left
(objects no row owns, dead processes' upload folders)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sanacloud.platform import idempotency, scratch
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.dispatch import redispatch
from sanacloud.platform.jobs.lifecycle import requeue_lost
from sanacloud.platform.jobs.retention import prune_checkpoints
from sanacloud.platform.queues import TICK_TASK
from sanacloud.platform.scheduler.admission import schedule_all
from sanacloud.platform.serving.generations import cool_abandoned, fail_abandoned
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store
from sanacloud.platform.storage.sweep import sweep_orphans
from sanacloud.workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="sanacloud.maintenance.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    with session_scope() as session:
        removed = idempotency.purge_expired(session)
    log.info("purged %d expired idempotency keys", removed)
    return removed


@app.task(name="sanacloud.maintenance.sweep_orphans")
def sweep_orphans_task() -> dict[str, int]:
    settings, store = get_settings(), get_object_store()
    removed = sweep_orphans(store, grace_s=settings.orphan_grace_s)
    for tenant, count in sorted(removed.items()):
        log.info("swept %d orphaned objects (%d bytes) of tenant %s", count.objects, count.bytes, tenant)
    summary = {"objects": sum(c.objects for c in removed.values()), "bytes": sum(c.bytes for c in removed.values()),
               "partial_writes": store.discard_partial_writes(utcnow() - timedelta(seconds=settings.orphan_grace_s)),
               "upload_folders": scratch.remove_dead(settings)}
    log.info("orphan sweep: %s", summary)
    return summary


@app.task(name=TICK_TASK)
def tick() -> dict[str, int]:
    settings = get_settings()
    with session_scope() as session:
        requeued = requeue_lost(session, timeout_s=settings.heartbeat_timeout_s)
    with session_scope() as session:
        resent = redispatch(session, unclaimed_after_s=settings.dispatch_retry_s)
    with session_scope() as session:
        cooled = cool_abandoned(session, grace_s=settings.heartbeat_timeout_s)
    with session_scope() as session:
        abandoned = fail_abandoned(session, timeout_s=settings.generation_timeout_s)
    with session_scope() as session:
        plans = schedule_all(session)
    with session_scope() as session:
        pruned = prune_checkpoints(session, keep_latest=settings.keep_checkpoints)
    summary = {"requeued": len(requeued), "resent": len(resent), "cooled_endpoints": len(cooled),
               "failed_generations": len(abandoned),
               "admitted": sum(len(p.admit) for p in plans),
               "preempted": sum(len(p.preempt) for p in plans), "pruned_checkpoints": pruned}
    if any(summary.values()):
        log.info("tick: %s", summary)
    return summary

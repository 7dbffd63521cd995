"""Periodic housekeeping, run by beat on the maintenance queue: the scheduler's tick (reap lost
workers' jobs, admit, prune checkpoints, reconcile the executor's cluster), expired idempotency
keys, and what killed writers left (objects no row owns, dead processes' upload folders).

With the Kubernetes executor, the worker that runs these is the executor's: it also consumes every
pool's `train.<pool>` (added as pools appear, at each tick), turning each message into a Job."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task
from sqlalchemy import select

from sanacloud.platform import idempotency, queues, scratch
from sanacloud.platform.cluster.executor import get_executor
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import GpuPool
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.dispatch import redispatch
from sanacloud.platform.jobs.lifecycle import requeue_lost
from sanacloud.platform.jobs.retention import prune_checkpoints
from sanacloud.platform.queues import RECONCILE_TASK, TICK_TASK
from sanacloud.platform.scheduler.admission import schedule_all
from sanacloud.platform.serving.generations import cool_abandoned, fail_abandoned
from sanacloud.platform.serving.replicas import shrink_idle
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


@app.task(name=RECONCILE_TASK)
def reconcile() -> dict[str, int]:
    return get_executor(get_settings()).reconcile()


@app.task(name=TICK_TASK, bind=True)
def tick(self: Task) -> dict[str, int]:
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
    try:
        reconciled = get_executor(settings).reconcile()
    except Exception:  # e.g. the Kubernetes API briefly unreachable: the next tick tries again
        log.exception("reconcile failed")
        reconciled = {"reconcile_failed": 1}
    with session_scope() as session:
        shrunk = shrink_idle(session)
    if settings.executor == "kubernetes":
        _consume_every_train_queue(self.request.hostname)
    summary = {"requeued": len(requeued), "resent": len(resent), "cooled_endpoints": len(cooled),
               "failed_generations": len(abandoned), "replicas_released": len(shrunk),
               "admitted": sum(len(p.admit) for p in plans),
               "preempted": sum(len(p.preempt) for p in plans), "pruned_checkpoints": pruned, **reconciled}
    if any(summary.values()):
        log.info("tick: %s", summary)
    return summary


def _consume_every_train_queue(hostname: str | None) -> None:
    """Pools are made at run time (the admin API): this worker starts consuming a new pool's queue
    at the tick after. Celery ignores a queue the worker consumes already."""
    with session_scope() as session:
        pools = session.scalars(select(GpuPool.name)).all()
    for pool in pools:
        try:
            app.control.add_consumer(queues.train_queue(pool), destination=[hostname] if hostname else None,
                                     reply=False)
        except Exception:  # the tick's other work is done; the next tick tries again
            log.exception("could not consume %s", queues.train_queue(pool))

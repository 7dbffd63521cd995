"""Admission as users see it: jobs wait for quota and capacity, start when a job ends or a quota
grows, in fair-share order; lost workers' jobs are requeued; usage is billed and reported;
old checkpoints are pruned and a deleted job takes its objects with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sanacloud.platform import queues
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Checkpoint, Job, UsageRecord
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import dispatch, lifecycle
from sanacloud.platform.jobs.retention import prune_checkpoints
from sanacloud.platform.scheduler.admission import schedule_all
from tests.helpers.api import new_job
from tests.helpers.backends import TenantCtx, object_keys, reset_caches
from tests.helpers.lifecycle import end, record_checkpoints, resize, start


def status(client: TestClient, tenant: TenantCtx, job_id: str) -> str:
    return str(client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()["status"])


def test_a_job_beyond_quota_waits_until_one_ends(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("acme", nominal_gpus=1)
    first, second = new_job(client, tenant), new_job(client, tenant)
    assert (status(client, tenant, first), status(client, tenant, second)) == ("admitted", "queued")
    start(first)
    end(first)
    assert status(client, tenant, second) == "admitted"


def test_raising_a_quota_admits_waiting_jobs_at_once(client: TestClient, make_tenant,  # type: ignore[no-untyped-def]
                                                     admin_headers: dict[str, str]) -> None:
    tenant = make_tenant("acme", nominal_gpus=1)
    new_job(client, tenant)
    waiting = new_job(client, tenant)
    raised = client.put(f"/v1/admin/tenants/{tenant.id}/quotas/gpu", json={"nominal_gpus": 2},
                        headers=admin_headers)
    assert raised.status_code == 200 and status(client, tenant, waiting) == "admitted"


def test_fair_share_serves_the_tenant_with_less_recent_usage_first(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    busy, fresh, holder = (make_tenant(name, nominal_gpus=1) for name in ("busy", "fresh", "holder"))
    resize("gpu", 1)
    running = new_job(client, holder)
    busy_job = new_job(client, busy)  # submitted first...
    fresh_job = new_job(client, fresh)
    with session_scope() as session:
        now = utcnow()
        session.add(UsageRecord(tenant_id=busy.id, pool_id=session.get_one(Job, busy_job).pool_id, job_id="job_old",
                                gpus=1, started_at=now - timedelta(hours=2), ended_at=now - timedelta(hours=1),
                                gpu_seconds=3600.0))
    start(running)
    end(running)
    # ...but the tenant that used the pool for an hour recently waits for the one that did not.
    assert (status(client, busy, busy_job), status(client, fresh, fresh_job)) == ("queued", "admitted")


def test_disabled_tenants_jobs_are_not_admitted(client: TestClient, make_tenant,  # type: ignore[no-untyped-def]
                                                admin_headers: dict[str, str]) -> None:
    tenant = make_tenant("acme", nominal_gpus=1)
    new_job(client, tenant)
    waiting = new_job(client, tenant)
    client.patch(f"/v1/admin/tenants/{tenant.id}", json={"status": "disabled"}, headers=admin_headers)
    client.put(f"/v1/admin/tenants/{tenant.id}/quotas/gpu", json={"nominal_gpus": 2}, headers=admin_headers)
    with session_scope() as session:
        assert session.get_one(Job, waiting).status == "queued"


def test_a_job_whose_worker_went_silent_is_requeued_and_billed_to_its_last_heartbeat(
        client: TestClient, tenant: TenantCtx) -> None:
    job_id = new_job(client, tenant)
    start(job_id)
    started, last_seen = utcnow() - timedelta(minutes=20), utcnow() - timedelta(minutes=10)
    with session_scope() as session:  # it started 20 minutes ago and last beat 10 minutes ago
        session.execute(update(UsageRecord).where(UsageRecord.job_id == job_id).values(
            started_at=started, ended_at=started))
        session.execute(update(Job).where(Job.id == job_id).values(accounted_until=started, heartbeat_at=last_seen))
        assert lifecycle.requeue_lost(session, timeout_s=120) == [job_id]
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        record = session.scalars(select(UsageRecord).where(UsageRecord.job_id == job_id)).one()
        assert record.ended_at == last_seen and job.accounted_until is None
        assert abs(record.gpu_seconds - 600) < 1
    # The tick that reaped it admits it again as a new attempt; the old worker's task is now stale.
    with session_scope() as session:
        schedule_all(session)
    job = client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()
    assert job["status"] == "admitted" and job["attempt"] == 2
    with session_scope() as session:
        assert lifecycle.heartbeat(session, job_id=job_id, attempt=1, step=5, steps=10) == lifecycle.Signal.LOST
    reasons = [e["payload"].get("reason") for e in client.get(
        f"/v1/jobs/{job_id}/events?type=status", headers=tenant.headers).json()["items"]]
    assert "worker lost; resumes from its last checkpoint" in reasons


def test_unclaimed_admissions_are_sent_again(client: TestClient, tenant: TenantCtx) -> None:
    job_id = new_job(client, tenant)
    with session_scope() as session:
        assert session.get_one(Job, job_id).dispatched_at is not None
        assert dispatch.redispatch(session, unclaimed_after_s=300) == []
        session.execute(update(Job).where(Job.id == job_id).values(dispatched_at=utcnow() - timedelta(minutes=6)))
        assert dispatch.redispatch(session, unclaimed_after_s=300) == [job_id]


def test_a_job_the_broker_refused_says_so_and_is_sent_at_the_next_tick(
        client: TestClient, tenant: TenantCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANACLOUD_BROKER_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    reset_caches()
    queues.producer.cache_clear()
    job_id = new_job(client, tenant)
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "admitted" and job.dispatched_at is None
    events = client.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).json()["items"]
    failed = [event for event in events if event["type"] == "dispatch_failed"]
    assert len(failed) == 1 and "OperationalError" in failed[0]["payload"]["error"], events
    monkeypatch.delenv("SANACLOUD_BROKER_URL")  # the broker is back
    reset_caches()
    queues.producer.cache_clear()
    with session_scope() as session:  # admitted long enough ago that its own send is over
        session.execute(update(Job).where(Job.id == job_id).values(admitted_at=utcnow() - timedelta(seconds=30)))
    with session_scope() as session:
        assert dispatch.redispatch(session, unclaimed_after_s=300) == [job_id]
    with session_scope() as session:
        assert session.get_one(Job, job_id).dispatched_at is not None


def test_usage_reports_billed_gpu_time(client: TestClient, tenant: TenantCtx, admin_headers: dict[str, str]) -> None:
    job_id = new_job(client, tenant, gpus=2)
    start(job_id)
    mine = client.get("/v1/usage", headers=tenant.headers).json()["pools"]
    assert mine == [{"pool": "gpu", "gpu_seconds": mine[0]["gpu_seconds"], "jobs": 1, "gpus_in_use": 2,
                     "gpus_held_by_jobs": 2, "gpus_held_by_endpoints": 0,
                     "holders": [{"kind": "job", "ids": [job_id], "gpus": 2}],
                     "nominal_gpus": 2, "borrowing_limit_gpus": 0}]
    with session_scope() as session:  # pretend it ran for 30 s
        session.execute(update(Job).where(Job.id == job_id).values(accounted_until=utcnow() - timedelta(seconds=30)))
        session.execute(update(UsageRecord).where(UsageRecord.job_id == job_id).values(
            started_at=utcnow() - timedelta(seconds=30), ended_at=utcnow() - timedelta(seconds=30)))
    end(job_id)
    mine = client.get("/v1/usage", headers=tenant.headers).json()["pools"][0]
    assert 60 <= mine["gpu_seconds"] < 70 and mine["gpus_in_use"] == 0  # 2 GPUs x ~30 s
    report = client.get("/v1/admin/usage", headers=admin_headers).json()
    assert [(line["tenant"], line["pool"]) for line in report["lines"]] == [("acme", "gpu")]
    assert report["total_gpu_seconds"] == report["lines"][0]["gpu_seconds"]
    half = client.get("/v1/admin/usage", headers=admin_headers, params={
        "since": (utcnow() - timedelta(seconds=15)).isoformat()}).json()
    assert half["total_gpu_seconds"] < report["total_gpu_seconds"]  # clipped to the interval
    backwards = client.get("/v1/usage", headers=tenant.headers, params={
        "since": utcnow().isoformat(), "until": (utcnow() - timedelta(days=1)).isoformat()})
    assert backwards.status_code == 422 and "must be before" in backwards.json()["detail"]
    assert client.get("/v1/admin/usage", headers=tenant.headers).status_code == 403


def test_old_checkpoints_are_pruned_keeping_the_newest_and_the_best(client: TestClient, tenant: TenantCtx) -> None:
    job_id = new_job(client, tenant)
    start(job_id)
    prefixes = record_checkpoints(job_id, [0.9, 0.2, 0.5, 0.6, 0.7, 0.8])
    with session_scope() as session:
        assert prune_checkpoints(session, keep_latest=2) == 3
    with session_scope() as session:
        kept = session.scalars(select(Checkpoint.step).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step))
        assert list(kept) == [2, 5, 6]  # the best (loss 0.2) and the two newest
    assert [bool(object_keys(prefixes[i])) for i in range(6)] == [False, True, False, False, True, True]


def test_deleting_a_job_deletes_its_objects(client: TestClient, tenant: TenantCtx) -> None:
    job_id = new_job(client, tenant)
    start(job_id)
    record_checkpoints(job_id, [0.5])
    refused = client.delete(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert refused.status_code == 409 and "cancel it" in refused.json()["detail"]
    end(job_id)
    assert client.delete(f"/v1/jobs/{job_id}", headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).status_code == 404
    assert object_keys(f"tenants/{tenant.id}/jobs/") == []
    assert object_keys(f"tenants/{tenant.id}/datasets/")  # the dataset is the tenant's, not the job's

"""200 job submissions from parallel clients against two API processes on one PostgreSQL never
admit past the pool's capacity or a tenant's quota (nominal plus borrowing limit)."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Job, JobEvent
from tests.helpers.brokers import redis_broker
from tests.helpers.cluster import cluster_settings, migrate_and_make_admin_key, start_api
from tests.helpers.deadlines import scaled
from tests.helpers.images import captioned_zip
from tests.helpers.services import fresh_pg_database

pytestmark = pytest.mark.slow
CAPACITY, TENANTS, JOBS_PER_TENANT = 10, 20, 10
NOMINAL, BORROW = 1, 1


def replay_never_exceeds_limits(session: Session, tenant_of: dict[str, str]) -> None:
    """Admissions commit one at a time under the pool lock, so the status events, in id order,
    are the pool's history: replay it and check the limits after every change."""
    holding: set[str] = set()
    peak = 0
    for event in session.scalars(select(JobEvent).where(JobEvent.type == "status").order_by(JobEvent.id)):
        if event.payload["to"] in ("admitted", "running"):
            holding.add(event.job_id)
        else:
            holding.discard(event.job_id)
        peak = max(peak, len(holding))
        assert len(holding) <= CAPACITY
        assert max(Counter(tenant_of[job] for job in holding).values(), default=0) <= NOMINAL + BORROW
    assert peak == CAPACITY


def test_parallel_submissions_through_two_api_processes_never_over_admit(s3_server: str, tmp_path: Path) -> None:
    with fresh_pg_database() as database_url, redis_broker() as broker, ExitStack() as stack:
        env = cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                               data_dir=tmp_path / "data", bucket="concurrency")
        admin_key = migrate_and_make_admin_key(env)
        urls = [start_api(stack, env, tmp_path / f"api-{replica}.log") for replica in range(2)]

        admin = httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {admin_key}"},
                             timeout=scaled(60))
        admin.put("/v1/admin/pools/h100", json={"gpu_type": "h100", "capacity_gpus": CAPACITY}).raise_for_status()
        submissions = []
        for index in range(TENANTS):
            tenant = admin.post("/v1/admin/tenants", json={"name": f"t{index}"}).json()
            admin.put(f"/v1/admin/tenants/{tenant['id']}/quotas/h100",
                      json={"nominal_gpus": NOMINAL, "borrowing_limit_gpus": BORROW}).raise_for_status()
            key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys", json={
                "name": "k", "email": f"a@t{index}.example.com", "role": "tenant_admin"}).json()["key"]
            headers = {"Authorization": f"Bearer {key}"}
            dataset = httpx.post(f"{urls[0]}/v1/datasets", json={"name": "d"}, headers=headers).json()["id"]
            httpx.post(f"{urls[0]}/v1/datasets/{dataset}/files", headers=headers, timeout=scaled(60),
                       files=[("files", ("set.zip", captioned_zip(1)))]).raise_for_status()
            body = {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny"}
            submissions += [(headers, body)] * JOBS_PER_TENANT

        replicas = itertools.cycle(urls)
        requests = [(next(replicas), headers, body) for headers, body in submissions]

        def submit(request: tuple[str, dict[str, str], dict[str, str]]) -> int:
            url, headers, body = request
            return httpx.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=scaled(120)).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            codes = list(pool.map(submit, requests))
        assert codes == [201] * len(requests)

        engine = create_engine(database_url)
        with Session(engine) as session:
            jobs = session.scalars(select(Job)).all()
            admitted = [job for job in jobs if job.status == "admitted"]
            per_tenant = Counter(job.tenant_id for job in admitted)
            assert len(jobs) == TENANTS * JOBS_PER_TENANT
            assert len(admitted) == CAPACITY  # full, and not one GPU more
            # 20 tenants each want their nominal GPU: borrowers were preempted for them as they came.
            assert not any(job.borrowed for job in admitted) and set(per_tenant.values()) == {1}
            replay_never_exceeds_limits(session, {job.id: job.tenant_id for job in jobs})
        engine.dispose()
        admin.close()

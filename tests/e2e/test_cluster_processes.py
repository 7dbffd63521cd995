"""Cluster mode for real: `sanacloud migrate`, `api` and `worker` processes on PostgreSQL, S3
(moto's server) and a Redis broker (RabbitMQ too, for the worker); an operator onboards a
tenant, who runs the whole flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from sanacloud.platform.db import migrate
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import IdempotencyKey, Tenant
from sanacloud.platform.settings import Settings
from sanacloud.workers.celery_app import make_celery
from tests.helpers.brokers import AMQP_BASE, redis_broker
from tests.helpers.cluster import bucket_name, cli, cluster_settings
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.flow import upload_submit_list_cancel
from tests.helpers.processes import SANACLOUD, running, wait_for_text, wait_healthy
from tests.helpers.services import free_port, fresh_pg_database

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster_env(s3_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_pg_database() as database_url, redis_broker() as broker:
        yield cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                               data_dir=tmp_path / "data", bucket=bucket_name("cluster", tmp_path))


def test_cluster_processes_run_the_flow(cluster_env: dict[str, str], tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config(cluster_env["SANACLOUD_DATABASE_URL"])).get_current_head()
    assert f"database at revision {head}" in cli(cluster_env, "migrate")
    admin_key = cli(cluster_env, "admin", "create-key", "--platform-admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with running([SANACLOUD, "api", "--host", "127.0.0.1", "--port", str(port)], cluster_env, log) as api:
        wait_healthy(url, api, log)
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=scaled(30))
        tenant = admin.post("/v1/admin/tenants", json={"name": "acme"}).json()
        admin.put("/v1/admin/pools/h100", json={"gpu_type": "h100", "capacity_gpus": 8})
        admin.put(f"/v1/admin/tenants/{tenant['id']}/quotas/h100", json={"nominal_gpus": 2})
        key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys",
                         json={"name": "ci", "email": "ci@acme.example.com", "role": "tenant_admin"}).json()["key"]
        upload_submit_list_cancel(url, key)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_worker_consumes_maintenance_tasks(cluster_env: dict[str, str], tmp_path: Path, broker: str) -> None:
    if broker == "rabbitmq":  # instead of the fixture's Redis
        cluster_env["SANACLOUD_BROKER_URL"] = f"{AMQP_BASE}//"
    cli(cluster_env, "migrate")
    engine = create_engine(cluster_env["SANACLOUD_DATABASE_URL"])
    with Session(engine) as session, session.begin():
        tenant = Tenant(name="t")
        session.add(tenant)
        session.flush()
        long_ago = utcnow() - timedelta(days=3)
        session.add(IdempotencyKey(tenant_id=tenant.id, scope="jobs.create", key="old", request_hash="x",
                                   resource_id="job_x", created_at=long_ago, expires_at=long_ago))
    log = tmp_path / "worker.log"
    with running([SANACLOUD, "worker", "--queues", "maintenance"], cluster_env, log):
        wait_for_text(log, "ready.")
        celery = make_celery(Settings(**{k.removeprefix("SANACLOUD_").lower(): v for k, v in cluster_env.items()}))
        celery.send_task("sanacloud.maintenance.purge_idempotency_keys", queue="maintenance")

        def purged() -> bool:
            with Session(engine) as session:
                return session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0

        wait_until(purged, what="the maintenance worker to purge the expired idempotency key", timeout_s=60)
        wait_for_text(log, "purged 1 expired idempotency keys")
    engine.dispose()

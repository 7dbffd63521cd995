"""GET /metrics after real requests: the request counter by route template and status, jobs by
state and pool and the GPU gauges as the database has them, the admission histogram, queue depths;
several processes summed through one folder; a broker that is down costs no scrape."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sanacloud.platform import queues
from sanacloud.platform.db.models import GpuPool, Job, Tenant
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.status import JobStatus
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.brokers import rabbitmq_vhost, redis_broker
from tests.helpers.deadlines import scaled
from tests.helpers.metrics import Samples, scrape, series, value

REQUESTS = "sanacloud_http_requests_total"


@pytest.fixture(autouse=True)
def producer_of_this_test() -> Iterator[None]:
    """The API's producer sends to this test's broker (it is cached per process, with the first settings)."""
    queues.producer.cache_clear()
    yield
    queues.producer.cache_clear()


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    return value(samples, REQUESTS, method=method, route=route, status=str(status))


def test_a_flow_moves_the_request_counter_by_route_template(client: TestClient, tenant: TenantCtx) -> None:
    before = scrape(client)
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1))).json()["id"]
    for _ in range(2):
        assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).status_code == 200
    assert client.get("/v1/jobs/job_missing", headers=tenant.headers).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}").status_code == 401  # refused before routing: still its template
    after = scrape(client)
    moved = {(method, route, status): requests(after, method, route, status) - requests(before, method, route, status)
             for method, route, status in [("POST", "/v1/jobs", 201), ("GET", "/v1/jobs/{job_id}", 200),
                                           ("GET", "/v1/jobs/{job_id}", 404), ("GET", "/v1/jobs/{job_id}", 401),
                                           ("POST", "/v1/datasets/{dataset_id}/files", 201)]}
    assert moved == {("POST", "/v1/jobs", 201): 1, ("GET", "/v1/jobs/{job_id}", 200): 2,
                     ("GET", "/v1/jobs/{job_id}", 404): 1, ("GET", "/v1/jobs/{job_id}", 401): 1,
                     ("POST", "/v1/datasets/{dataset_id}/files", 201): 1}
    routes = {dict(labels)["route"] for labels in series(after, REQUESTS)}
    assert not any(job_id in route or "job_missing" in route for route in routes), routes
    count = value(after, "sanacloud_http_request_duration_seconds_count", method="GET", route="/v1/jobs/{job_id}",
                  status="200")
    assert count - value(before, "sanacloud_http_request_duration_seconds_count", method="GET",
                         route="/v1/jobs/{job_id}", status="200") == 2


def database_view() -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]:
    """Jobs by (pool, state), GPUs of admitted and running jobs by pool, capacity by pool: read here."""
    with session_scope() as session:
        names = {pool_id: name for pool_id, name in session.execute(select(GpuPool.id, GpuPool.name))}
        jobs = {(names[pool_id], status): count for pool_id, status, count in session.execute(
            select(Job.pool_id, Job.status, func.count()).group_by(Job.pool_id, Job.status))}
        used = {names[pool_id]: int(gpus) for pool_id, gpus in session.execute(
            select(Job.pool_id, func.sum(Job.gpus)).where(Job.status.in_(["admitted", "running"]))
            .group_by(Job.pool_id))}
        capacity = {name: gpus for name, gpus in session.execute(select(GpuPool.name, GpuPool.capacity_gpus))}
    return jobs, used, capacity


def test_jobs_gpus_and_admissions_are_as_the_database_has_them(client: TestClient, tenant: TenantCtx) -> None:
    before = scrape(client)
    dataset_id = ready_dataset(client, tenant, images=1)
    statuses = [submit(client, tenant, lora_job(dataset_id)).json()["status"] for _ in range(3)]
    assert statuses == ["admitted", "admitted", "queued"]  # 2 GPUs of quota, a GPU each
    samples = scrape(client)
    jobs, used, capacity = database_view()
    assert {labels: count for labels, count in series(samples, "sanacloud_jobs").items() if count} == {
        frozenset({("pool", pool), ("state", state)}): count for (pool, state), count in jobs.items()}
    assert {dict(labels)["state"] for labels in series(samples, "sanacloud_jobs")} == {s.value for s in JobStatus}
    assert value(samples, "sanacloud_pool_capacity_gpus", pool="gpu") == capacity["gpu"] == 8
    assert value(samples, "sanacloud_pool_used_gpus", pool="gpu", holder="job") == used["gpu"] == 2
    assert value(samples, "sanacloud_pool_used_gpus", pool="gpu", holder="endpoint") == 0
    admissions = "sanacloud_admission_pass_duration_seconds_count"
    assert value(samples, admissions, pool="gpu") - value(before, admissions, pool="gpu") >= 3  # one pass per submit
    # The admitted jobs' tasks wait in their pool's training queue (no worker runs here).
    assert value(samples, "sanacloud_celery_queue_messages", queue="train.gpu") - value(
        before, "sanacloud_celery_queue_messages", queue="train.gpu") == 2
    assert ("sanacloud_celery_queue_messages", frozenset({("queue", "maintenance")})) in samples


def test_no_tenant_data_in_metrics(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1), name="secret-project")).json()
    text = client.get("/metrics").text
    with session_scope() as session:
        tenant_name = session.scalars(select(Tenant.name)).one()
    for private in (tenant.id, tenant_name, job_id["id"], "secret-project", job_id["dataset_id"]):
        assert private not in text


def test_a_token_guards_metrics_when_set(app_with: Any) -> None:
    token = "metrics-token-0123456789abcdef"
    client = app_with(metrics_token=token)
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, Authorization=f"Bearer {token}")


def test_metrics_is_not_in_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_broker_that_is_down_costs_its_gauge_not_the_scrape(app_with: Any) -> None:
    client = app_with(broker_url="redis://127.0.0.1:9/0", metrics_timeout_s="0.5")  # nothing listens on port 9
    before = scrape(client)
    started = time.monotonic()
    samples = scrape(client)
    assert time.monotonic() - started < scaled(5)
    assert not series(samples, "sanacloud_celery_queue_messages")
    errors = "sanacloud_metrics_scrape_errors_total"
    assert value(samples, errors, collector="broker") - value(before, errors, collector="broker") == 1
    assert series(samples, "sanacloud_pool_capacity_gpus") is not None  # the database's gauges are still there


@pytest.mark.parametrize("broker", [redis_broker, rabbitmq_vhost])
def test_queue_depth_on_a_real_broker(app_with: Any, make_tenant: Any, broker: Any) -> None:
    make_tenant("acme")  # its pool "gpu"
    with broker() as settings:
        client = app_with(**{name.removeprefix("SANACLOUD_").lower(): value for name, value in settings.items()})
        # Before the first message, a queue the broker does not know: none waiting.
        assert value(scrape(client), "sanacloud_celery_queue_messages", queue="train.gpu") == 0
        for _ in range(3):
            queues.send_training("job_x", 1, "gpu")
        samples = scrape(client)
        assert value(samples, "sanacloud_celery_queue_messages", queue="train.gpu") == 3
        assert value(samples, "sanacloud_celery_queue_messages", queue="infer.gpu") == 0
        assert value(samples, "sanacloud_celery_queue_messages", queue="maintenance") == 0


WRITER = """
import sys
from prometheus_client import Counter
from sanacloud.platform.observability.metrics import HTTP_REQUESTS
deliveries = Counter("sanacloud_test_deliveries_total", "defined outside observability", ["outcome"])
HTTP_REQUESTS.labels("GET", "/v1/jobs", "200").inc(int(sys.argv[1]))
deliveries.labels("delivered").inc(int(sys.argv[1]))
"""


def test_several_processes_are_summed(app_with: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    for count in (3, 4):  # two processes, each of its own pid, into one folder
        done = subprocess.run([sys.executable, "-c", WRITER, str(count)], env={"PROMETHEUS_MULTIPROC_DIR": str(folder),
                              "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=scaled(120))
        assert done.returncode == 0, done.stderr
    assert len(list(folder.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    samples = scrape(app_with())
    assert requests(samples, "GET", "/v1/jobs", 200) == 7
    assert value(samples, "sanacloud_test_deliveries_total", outcome="delivered") == 7

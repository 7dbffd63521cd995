"""The Kubernetes executor's whole path, for real but for the cluster itself: `sanacloud api` and the
executor (`sanacloud worker --queues maintenance`) as processes on PostgreSQL, S3 (moto) and Redis,
calling the in-memory API server over HTTP as they would call a real one. A job's admission sends
`train.<pool>`, which the executor consumes (it subscribed at its tick) and makes a Job; a cold
request sends a reconcile, which makes an inference Deployment. Each "pod" is then a local process
started from what was rendered (tests/helpers/pods.py): the training pod trains and finishes the
job, the inference pod consumes its model's own queue and serves the generation."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from sanacloud.platform.queues import TICK_TASK
from sanacloud.platform.settings import Settings
from sanacloud.workers.celery_app import make_celery
from tests.helpers.brokers import redis_broker
from tests.helpers.cluster import bucket_name, cluster_settings, migrate_and_make_admin_key, start_api
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.fake_kube import FakeKube
from tests.helpers.fake_kube_http import Served, serving
from tests.helpers.images import captioned_zip
from tests.helpers.pods import running_pod, start_pod
from tests.helpers.processes import SANACLOUD, running, tail, wait_for_text
from tests.helpers.services import fresh_pg_database
from tests.helpers.workers import QUICK

pytestmark = pytest.mark.slow
IMAGE = "registry.example.com/sanacloud:1.2.3"


def objects(kube: Served, kind: str) -> list[dict[str, Any]]:
    with kube.lock:
        return kube.fake.objects(kind)


def onboard(url: str, admin_key: str) -> httpx.Client:
    """A tenant with 2 GPUs of pool h100; a client with its key."""
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=scaled(30))
    tenant = admin.post("/v1/admin/tenants", json={"name": "acme"}).json()
    assert admin.put("/v1/admin/pools/h100", json={"gpu_type": "h100", "capacity_gpus": 4}).status_code == 200
    assert admin.put(f"/v1/admin/tenants/{tenant['id']}/quotas/h100", json={"nominal_gpus": 2}).status_code == 200
    key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys",
                     json={"name": "ci", "email": "ci@acme.example.com", "role": "tenant_admin"}).json()["key"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=scaled(60))


def consuming(celery: Any, queue: str) -> Callable[[], bool]:
    def check() -> bool:
        active = celery.control.inspect(timeout=2).active_queues() or {}
        return any(q["name"] == queue for queues in active.values() for q in queues)
    return check


def test_jobs_and_cold_endpoints_become_pods_through_the_executor(s3_server: str, tmp_path: Path) -> None:
    fake = FakeKube()
    with fresh_pg_database() as database_url, redis_broker() as broker, serving(fake) as kube, ExitStack() as stack:
        env = cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                               data_dir=tmp_path / "data", bucket=bucket_name("executor", tmp_path),
                               executor="kubernetes", kubernetes_api_url=kube.url, kubernetes_image=IMAGE,
                               heartbeat_s="0.3")
        admin_key = migrate_and_make_admin_key(env)
        url = start_api(stack, env, tmp_path / "api.log")
        executor_log = tmp_path / "executor.log"
        stack.enter_context(running([SANACLOUD, "worker", "--queues", "maintenance", "--hostname", "executor@%h"],
                                    env, executor_log))
        wait_for_text(executor_log, "ready.")
        tenant = onboard(url, admin_key)
        celery = make_celery(Settings(broker_url=env["SANACLOUD_BROKER_URL"],
                                      broker_key_prefix=env["SANACLOUD_BROKER_KEY_PREFIX"]))
        celery.send_task(TICK_TASK, queue="maintenance")  # beat's tick: the executor takes up pool h100's queue
        wait_until(consuming(celery, "train.h100"), what="the executor to consume train.h100", timeout_s=60)

        dataset = tenant.post("/v1/datasets", json={"name": "shapes"}).json()["id"]
        assert tenant.post(f"/v1/datasets/{dataset}/files",
                           files=[("files", ("set.zip", captioned_zip(2)))]).status_code == 201
        job = tenant.post("/v1/jobs", json={"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny",
                                            "hyperparameters": QUICK}).json()
        assert job["status"] == "admitted", job
        wait_until(lambda: objects(kube, "Job"), what="the executor to make the attempt a Job", timeout_s=60)
        wait_for_text(executor_log, "sanacloud.train.run")  # made from the dispatch message, not a tick
        (kube_job,) = objects(kube, "Job")
        pod_settings = {k: v for k, v in {**os.environ, **env}.items() if k.startswith("SANACLOUD_")}
        volume = {"SANACLOUD_WORK_DIR": str(tmp_path / "work")}  # the pod's scratch volume, a folder of ours
        training = start_pod(kube_job["spec"]["template"], pod_settings, tmp_path / "training-pod.log", env=volume)
        assert training.wait(timeout=scaled(240)) == 0, tail(tmp_path / "training-pod.log")
        finished = tenant.get(f"/v1/jobs/{job['id']}").json()
        assert finished["status"] == "succeeded", (finished, tail(tmp_path / "training-pod.log"))
        checkpoints = tenant.get(f"/v1/jobs/{job['id']}/checkpoints").json()
        assert [c["step"] for c in checkpoints] == [3, 6]
        events = tenant.get(f"/v1/jobs/{job['id']}/events", params={"limit": 1000}).json()["items"]
        assert [e["payload"]["kubernetes_job"] for e in events if e["type"] == "launched"] == [
            kube_job["metadata"]["name"]]
        celery.send_task(TICK_TASK, queue="maintenance")
        wait_until(lambda: not objects(kube, "Job"), what="the finished attempt's Job to be deleted", timeout_s=60)

        endpoint = tenant.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny", "pool": "h100"}).json()
        generation = tenant.post(f"/v1/endpoints/{endpoint['id']}/generate",
                                 json={"prompt": "a red circle", "wait": False, "resolution": 64, "steps": 4}).json()
        wait_until(lambda: objects(kube, "Deployment"), what="a cold request to make an inference Deployment",
                   timeout_s=60)
        (deployment,) = objects(kube, "Deployment")
        assert deployment["spec"]["replicas"] == 1
        inference = stack.enter_context(running_pod(deployment["spec"]["template"], pod_settings,
                                                    tmp_path / "inference-pod.log", env=volume))
        wait_until(lambda: tenant.get(f"/v1/generations/{generation['id']}").json()["status"] in ("succeeded",
                                                                                                 "failed"),
                   what="the inference pod to serve the generation", timeout_s=180)
        served = tenant.get(f"/v1/generations/{generation['id']}").json()
        assert served["status"] == "succeeded", (served, tail(tmp_path / "inference-pod.log"))
        assert inference.poll() is None

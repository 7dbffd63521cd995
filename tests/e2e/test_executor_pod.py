"""The Kubernetes executor's training pod, run for real as a local process: the reconcile pass makes
the Job (in the in-memory API server), and its pod's container command and environment, with the
ConfigMap and Secret references resolved to this test's platform (tests/helpers/pods.py), start
`sanacloud attempt` here. SIGTERM, which a pod gets when its Job is deleted (cancel, preemption) or
its node drained, makes it checkpoint and requeue well within the termination grace the Job gives
it. (test_executor_cluster.py runs a pod to the end, through the executor's processes.)

Not reproduced: the pod's volumes (the process writes where the test's settings say) and its
resources; a kubelet, a container runtime and a GPU."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import accounts
from sanacloud.platform.cluster.kube_api import KubeApi
from sanacloud.platform.cluster.reconcile import reconcile
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import Backend, TenantCtx, reset_caches
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.fake_kube import FakeKube
from tests.helpers.pods import start_pod
from tests.helpers.processes import tail
from tests.helpers.services import free_port
from tests.helpers.workers import QUICK

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)]
IMAGE = "registry.example.com/sanacloud:1.2.3"


@pytest.fixture
def kube(configured: Backend, monkeypatch: pytest.MonkeyPatch, fake_kube: FakeKube) -> Iterator[KubeApi]:
    for name, value in {"SANACLOUD_EXECUTOR": "kubernetes", "SANACLOUD_KUBERNETES_IMAGE": IMAGE,
                        "SANACLOUD_HEARTBEAT_S": "0.3"}.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    api = KubeApi(base_url="https://kubernetes.test", namespace="sanacloud", transport=fake_kube.transport)
    yield api
    api.close()


def start_attempt_pod(job: dict[str, Any], tmp_path: Path) -> subprocess.Popen[bytes]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    settings = {k: v for k, v in os.environ.items() if k.startswith("SANACLOUD_")}
    # The scratch volume the pod mounts is a folder of this test's.
    return start_pod(job["spec"]["template"], settings, tmp_path / "pod.log",
                     env={"SANACLOUD_WORK_DIR": str(tmp_path / "work")})


def launched(client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube,
             **hyperparameters: Any) -> tuple[str, dict[str, Any]]:
    response = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=2),
                                               hyperparameters={**QUICK, **hyperparameters}))
    assert response.status_code == 201, response.text
    reconcile(kube, get_settings())
    (job,) = fake_kube.objects("Job")
    return str(response.json()["id"]), job


def test_sigterm_checkpoints_and_requeues_within_the_pods_termination_grace(
        client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube, tmp_path: Path) -> None:
    job_id, job = launched(client, tenant, kube, fake_kube, steps=400, checkpoint_interval=400)
    grace = job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    pod = start_attempt_pod(job, tmp_path)
    try:
        wait_until(lambda: get_job(client, tenant, job_id)["step"] >= 2 or pod.poll() is not None,
                   what="the pod's trainer to take two steps", timeout_s=240)
        assert pod.poll() is None, tail(tmp_path / "pod.log")
        signalled = time.monotonic()
        pod.send_signal(signal.SIGTERM)  # what the kubelet does when the Job is deleted
        code = pod.wait(timeout=grace)
        took_s = time.monotonic() - signalled
    finally:
        pod.kill()
    assert code == 0, tail(tmp_path / "pod.log")
    print(f"SIGTERM to a recorded checkpoint and a requeued job: {took_s:.1f} s; the pod's grace: {grace} s")
    assert took_s < get_settings().stop_grace_s <= grace, "the checkpoint must fit in the trainer's stop grace"
    requeued = get_job(client, tenant, job_id)
    assert requeued["status"] in ("queued", "admitted") and requeued["attempt"] >= 1, requeued
    steps = [c["step"] for c in client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()]
    assert steps and 2 <= steps[-1] < 400, f"a checkpoint written on the way out: {steps}"
    reasons = [e["payload"].get("reason") for e in events(client, tenant, job_id) if e["type"] == "status"]
    assert "checkpointed to make room" in reasons


def test_a_job_across_two_nodes_trains_as_one_world_from_its_indexed_pods(
        client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Full training of 2 GPUs on 1-GPU nodes: an Indexed Job of two pods. Both run here as processes,
    node ranks 0 and 1 (JOB_COMPLETION_INDEX), sharing one working folder as the ReadWriteMany claim
    would, and meeting at node 0's rendezvous, whose headless-Service name resolves to this machine."""
    monkeypatch.setenv("SANACLOUD_KUBERNETES_SHARED_CLAIM", "shared-work")
    reset_caches()
    with session_scope() as session:
        pool = accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=8, gpus_per_node=1)
        accounts.set_quota(session, tenant_id=tenant.id, pool=pool, nominal_gpus=2, borrowing_limit_gpus=0)
    response = submit(client, tenant, {"type": "full", "dataset_id": ready_dataset(client, tenant, images=2),
                                       "base_model": "sana-tiny", "gpus": 2,
                                       "hyperparameters": {**QUICK, "steps": 4, "checkpoint_interval": 4}})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    reconcile(kube, get_settings())
    (job,) = fake_kube.objects("Job")
    template = job["spec"]["template"]
    (container,) = template["spec"]["containers"]
    args = container["args"]
    host = args[args.index("--rendezvous") + 1].rsplit(":", 1)[0]
    args[args.index("--rendezvous") + 1] = f"127.0.0.1:{free_port()}"  # what the Service's DNS name gives
    settings = {k: v for k, v in os.environ.items() if k.startswith("SANACLOUD_")}
    shared = {"SANACLOUD_WORK_DIR": str(tmp_path / "shared")}  # the claim both pods mount
    assert host == f"{job['metadata']['name']}-0.{job['metadata']['name']}.sanacloud.svc"
    # The follower first: it waits for node 0 to claim the attempt and write the trainer's spec.
    pods = [start_pod(template, settings, tmp_path / f"pod-{rank}.log",
                      env={**shared, "JOB_COMPLETION_INDEX": str(rank)}) for rank in (1, 0)]
    try:
        for rank, pod in zip((1, 0), pods, strict=True):
            assert pod.wait(timeout=scaled(300)) == 0, tail(tmp_path / f"pod-{rank}.log")
    finally:
        for pod in pods:
            pod.kill()
    finished = get_job(client, tenant, job_id)
    assert finished["status"] == "succeeded", (finished, tail(tmp_path / "pod-0.log"), tail(tmp_path / "pod-1.log"))
    start = next(e for e in events(client, tenant, job_id) if e["type"] == "start")
    assert start["payload"]["world_size"] == 2, "one world across the two pods"
    steps = [c["step"] for c in client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()]
    assert steps == [4]

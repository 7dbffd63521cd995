"""The Kubernetes executor's training pod, run for real as a local process: the reconcile pass makes
the Job (in the in-memory API server), and its pod's container command and environment, with the
ConfigMap and Secret references resolved to this test's platform, start `sanacloud attempt` here.
So the pod's entry point trains, checkpoints and finishes a sana-tiny run on PostgreSQL and S3; and
SIGTERM, which a pod gets when its Job is deleted (cancel, preemption) or its node drained, makes it
checkpoint and requeue well within the termination grace the Job gives it.

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

from sanacloud.platform.cluster import manifests
from sanacloud.platform.cluster.kube_api import KubeApi
from sanacloud.platform.cluster.reconcile import reconcile
from sanacloud.platform.settings import get_settings
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import Backend, TenantCtx, reset_caches
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.fake_kube import FakeKube
from tests.helpers.processes import SANACLOUD, tail
from tests.helpers.workers import QUICK

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)]
IMAGE = "registry.example.com/sanacloud:1.2.3"
SECRET_KEYS = {key: name for name, key in manifests.SECRET_ENV.items()}  # secret key -> settings variable


@pytest.fixture
def kube(configured: Backend, monkeypatch: pytest.MonkeyPatch, fake_kube: FakeKube) -> Iterator[KubeApi]:
    for name, value in {"SANACLOUD_EXECUTOR": "kubernetes", "SANACLOUD_KUBERNETES_IMAGE": IMAGE,
                        "SANACLOUD_HEARTBEAT_S": "0.3"}.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    api = KubeApi(base_url="https://kubernetes.test", namespace="sanacloud", transport=fake_kube.transport)
    yield api
    api.close()


def pod_environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet would make it, from this test's platform: the
    ConfigMap holds the test's settings, the Secret the test's credentials."""
    settings_now = {k: v for k, v in os.environ.items() if k.startswith("SANACLOUD_")}
    config = {k: v for k, v in settings_now.items() if k not in SECRET_KEYS.values()}
    secrets = {key: settings_now.get(name, "") for key, name in SECRET_KEYS.items()}
    assert [source["configMapRef"]["name"] for source in container["envFrom"]] == [manifests.CONFIG_MAP]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **config}
    for variable in container["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        env[variable["name"]] = secrets[ref["key"]] if ref else variable["value"]
        if ref:
            assert ref["name"] == manifests.SECRET
    return env


def start_pod(job: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE and container["command"] == ["sanacloud"]
    with log.open("wb") as out:
        return subprocess.Popen([SANACLOUD, *container["args"]], env=pod_environment(container), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def launched(client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube,
             **hyperparameters: Any) -> tuple[str, dict[str, Any]]:
    response = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=2),
                                               hyperparameters={**QUICK, **hyperparameters}))
    assert response.status_code == 201, response.text
    reconcile(kube, get_settings())
    (job,) = fake_kube.objects("Job")
    return str(response.json()["id"]), job


def test_the_pod_entry_point_trains_and_finishes_the_attempt(client: TestClient, tenant: TenantCtx, kube: KubeApi,
                                                             fake_kube: FakeKube, tmp_path: Path) -> None:
    job_id, job = launched(client, tenant, kube, fake_kube)
    pod = start_pod(job, tmp_path / "pod.log")
    try:
        assert pod.wait(timeout=scaled(240)) == 0, tail(tmp_path / "pod.log")
    finally:
        pod.kill()
    finished = get_job(client, tenant, job_id)
    assert finished["status"] == "succeeded", (finished, tail(tmp_path / "pod.log"))
    checkpoints = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()
    assert [c["step"] for c in checkpoints] == [3, 6]
    worker = next(e["payload"]["worker"] for e in events(client, tenant, job_id) if e["payload"].get("to") == "running")
    assert worker.startswith(os.uname().nodename), "claimed by the pod's process"
    reconcile(kube, get_settings())
    assert [name for kind, name, _grace in fake_kube.deletions if kind == "Job"] == [job["metadata"]["name"]]


def test_sigterm_checkpoints_and_requeues_within_the_pods_termination_grace(
        client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube, tmp_path: Path) -> None:
    job_id, job = launched(client, tenant, kube, fake_kube, steps=400, checkpoint_interval=400)
    grace = job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    pod = start_pod(job, tmp_path / "pod.log")
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

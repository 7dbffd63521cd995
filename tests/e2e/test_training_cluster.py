"""Training and serving through the real platform processes: the API, a maintenance worker with
beat (the scheduler's tick), training workers and an inference worker (`--pool solo`) on
PostgreSQL, Redis and S3 (moto).

A LoRA job and a full (DeepSpeed ZeRO-2, two processes under torchrun) job on sana-tiny run to
the end with checkpoints and sample images; a training worker killed with SIGKILL mid-run is
replaced, and the job resumes from its last checkpoint on the new worker with no checkpoint lost
or recorded twice. A checkpoint is promoted and served by an endpoint: generate answers with a
PNG of the requested size, and the same seed gives the same image.
"""

from __future__ import annotations

import io
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import flow
from tests.helpers.brokers import redis_broker
from tests.helpers.cluster import cluster_settings, migrate_and_make_admin_key, start_api
from tests.helpers.deadlines import scaled
from tests.helpers.images import captioned_zip
from tests.helpers.processes import SANACLOUD, running, trainer_processes, wait_for_text
from tests.helpers.services import fresh_pg_database

pytestmark = pytest.mark.slow
POOL = "cpu"
STEPS, INTERVAL = 200, 20  # the resume test: long enough to kill its worker between checkpoints


@dataclass
class Cluster:
    env: dict[str, str]
    logs: Path
    http: httpx.Client  # the tenant's
    stack: ExitStack
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_training_worker(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"train-worker-{len(self.workers) + 1}.log"
        worker = self.stack.enter_context(running(
            [SANACLOUD, "worker", "--queues", f"train.{POOL}", "--pool", "solo",
             "--hostname", f"train{len(self.workers) + 1}@%h"], self.env, log))
        wait_for_text(log, "ready.")
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
def cluster(s3_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("training-cluster")
    with fresh_pg_database() as database_url, redis_broker() as broker, ExitStack() as stack:
        # Fast enough to watch in a test: a tick every second, a lost worker noticed in 4 s.
        env = cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                               data_dir=logs / "data", bucket="training-cluster", scheduler_tick_s="1",
                               heartbeat_s="0.5", heartbeat_timeout_s="4", keep_checkpoints="20")
        admin_key = migrate_and_make_admin_key(env)
        url = start_api(stack, env, logs / "api.log")
        stack.enter_context(running([SANACLOUD, "worker", "--queues", "maintenance"], env, logs / "maintenance.log"))
        stack.enter_context(running([SANACLOUD, "beat"], env, logs / "beat.log"))
        stack.enter_context(running([SANACLOUD, "worker", "--queues", f"infer.{POOL}", "--pool", "solo",
                                     "--hostname", "infer@%h"], env, logs / "infer.log"))
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=scaled(30))
        tenant = admin.post("/v1/admin/tenants", json={"name": "acme"}).json()
        admin.put(f"/v1/admin/pools/{POOL}", json={"gpu_type": "cpu", "capacity_gpus": 2}).raise_for_status()
        admin.put(f"/v1/admin/tenants/{tenant['id']}/quotas/{POOL}", json={"nominal_gpus": 2}).raise_for_status()
        key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys",
                         json={"name": "ci", "email": "ci@acme.example.com", "role": "tenant_admin"}).json()["key"]
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=scaled(30))
        cluster = Cluster(env=env, logs=logs, http=http, stack=stack)
        cluster.start_training_worker()
        yield cluster
        http.close()
        admin.close()


@pytest.fixture(scope="module")
def dataset(cluster: Cluster) -> str:
    dataset_id = str(cluster.http.post("/v1/datasets", json={"name": "shapes"}).json()["id"])
    upload = cluster.http.post(f"/v1/datasets/{dataset_id}/files", files=[("files", ("set.zip", captioned_zip(4)))])
    assert upload.status_code == 201, upload.text
    return dataset_id


def submit(cluster: Cluster, body: dict[str, Any]) -> str:
    response = cluster.http.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_for_job(cluster: Cluster, job_id: str, done: Callable[[dict[str, Any]], bool], what: str,
                 timeout_s: float = 240) -> dict[str, Any]:
    return flow.wait_for_job(cluster.http, job_id, done, what, timeout_s, where=f"(logs in {cluster.logs})")


def all_events(cluster: Cluster, job_id: str) -> list[dict[str, Any]]:
    return cluster.http.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["items"]  # type: ignore[no-any-return]


def statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["payload"]["to"] for e in events if e["type"] == "status"]


def test_lora_job_runs_end_to_end(cluster: Cluster, dataset: str) -> None:
    job_id = submit(cluster, {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny", "hyperparameters": {
        "steps": 8, "checkpoint_interval": 4, "batch_size": 2, "resolution": 64,
        "validation_prompts": ["a red square", "a blue circle"]}})
    wait_for_job(cluster, job_id, lambda job: job["status"] == "running", "to be claimed by a worker", timeout_s=120)
    job = wait_for_job(cluster, job_id, lambda job: job["status"] == "succeeded", "to succeed")
    assert job["step"] == 8 and job["attempt"] == 1

    checkpoints = cluster.http.get(f"/v1/jobs/{job_id}/checkpoints").json()
    assert [c["step"] for c in checkpoints] == [4, 8]
    for checkpoint in checkpoints:
        images = [httpx.get(url, timeout=scaled(30)) for url in checkpoint["sample_urls"]]
        assert len(images) == 2 and all(image.content.startswith(b"\x89PNG") for image in images)
    events = all_events(cluster, job_id)
    assert statuses(events) == ["queued", "admitted", "running", "succeeded"]
    assert [e["payload"]["step"] for e in events if e["type"] == "step"] == list(range(1, 9))
    [cache] = [e["payload"] for e in events if e["type"] == "cache"]
    assert cache["latents_reused"] is False and cache["images"] == 4  # encoded once, here
    first_step = next(e for e in events if e["type"] == "step")["payload"]
    assert {"loss", "lr", "grad_norm", "samples_per_s"} <= set(first_step)
    usage = cluster.http.get("/v1/usage").json()["pools"]
    assert usage[0]["pool"] == POOL and usage[0]["gpu_seconds"] > 0


def test_killed_worker_is_replaced_and_the_job_resumes(cluster: Cluster, dataset: str) -> None:
    job_id = submit(cluster, {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny", "hyperparameters": {
        "steps": STEPS, "checkpoint_interval": INTERVAL, "batch_size": 2, "resolution": 64,
        "validation_prompts": ["a"]}})
    wait_for_job(cluster, job_id, lambda job: bool(cluster.http.get(f"/v1/jobs/{job_id}/checkpoints").json()),
                 "to record its first checkpoint")
    running_event = next(e for e in all_events(cluster, job_id)
                         if e["type"] == "status" and e["payload"]["to"] == "running")
    pid = int(running_event["payload"]["worker"].rsplit(":", 1)[1])
    victim = next(worker for worker in cluster.workers if worker.pid == pid)
    victim.send_signal(signal.SIGKILL)  # the whole worker, as if its machine died
    victim.wait()
    killed_at_step = cluster.http.get(f"/v1/jobs/{job_id}").json()["step"]
    assert killed_at_step < STEPS, "the run ended before the worker could be killed; make it longer"

    cluster.start_training_worker()
    job = wait_for_job(cluster, job_id, lambda job: job["status"] == "succeeded", "to resume and succeed")
    assert job["attempt"] == 2

    steps = [c["step"] for c in cluster.http.get(f"/v1/jobs/{job_id}/checkpoints").json()]
    assert steps == list(range(INTERVAL, STEPS + 1, INTERVAL))  # none lost, none twice
    events = all_events(cluster, job_id)
    assert statuses(events) == ["queued", "admitted", "running", "queued", "admitted", "running", "succeeded"]
    lost = next(e for e in events if e["type"] == "status" and e["payload"]["to"] == "queued"
                and e["payload"].get("reason", "").startswith("worker lost"))
    assert lost["payload"]["worker"] == running_event["payload"]["worker"]
    resumed = [e["payload"]["step"] for e in events if e["type"] == "resumed"]
    assert len(resumed) == 1 and resumed[0] % INTERVAL == 0 and INTERVAL <= resumed[0] <= killed_at_step
    after = [e["payload"]["step"] for e in events if e["type"] == "step" and e["id"] > lost["id"]]
    assert after[0] == resumed[0] + 1 and after[-1] == STEPS
    caches = [e["payload"] for e in events if e["type"] == "cache"]  # the first job encoded this dataset
    assert len(caches) == 2 and all(c["latents_reused"] and c["texts_reused"] for c in caches)


def test_cancel_mid_run_stops_the_trainer_within_seconds(cluster: Cluster, dataset: str) -> None:
    job_id = submit(cluster, {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny", "hyperparameters": {
        "steps": 100_000, "checkpoint_interval": 100_000, "batch_size": 2, "resolution": 64}})
    wait_for_job(cluster, job_id, lambda job: job["step"] >= 2, "to train two steps")
    pids = trainer_processes(job_id)
    assert pids
    assert cluster.http.post(f"/v1/jobs/{job_id}/cancel").json()["cancel_requested_at"] is not None
    wait_for_job(cluster, job_id, lambda job: job["status"] == "cancelled", "to be cancelled", timeout_s=20)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "the trainer outlived the cancel"


def test_full_training_with_deepspeed_as_a_job(cluster: Cluster, dataset: str) -> None:
    job_id = submit(cluster, {"type": "full", "dataset_id": dataset, "base_model": "sana-tiny", "gpus": 2,
                              "hyperparameters": {"steps": 4, "checkpoint_interval": 2, "batch_size": 2,
                                                  "resolution": 64, "validation_prompts": ["a"]},
                              "deepspeed": {"zero_stage": 2}})
    job = wait_for_job(cluster, job_id, lambda job: job["status"] == "succeeded", "to succeed", timeout_s=300)
    assert job["step"] == 4
    checkpoints = cluster.http.get(f"/v1/jobs/{job_id}/checkpoints").json()
    assert [c["step"] for c in checkpoints] == [2, 4]
    start = next(e for e in all_events(cluster, job_id) if e["type"] == "start")
    assert start["payload"]["job_type"] == "full" and start["payload"]["world_size"] == 2


def test_promoted_checkpoint_is_served_by_an_endpoint(cluster: Cluster, dataset: str) -> None:
    job_id = submit(cluster, {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny", "hyperparameters": {
        "steps": 4, "checkpoint_interval": 4, "batch_size": 2, "resolution": 64, "validation_prompts": ["a"]}})
    wait_for_job(cluster, job_id, lambda job: job["status"] == "succeeded", "to succeed")
    [checkpoint] = cluster.http.get(f"/v1/jobs/{job_id}/checkpoints").json()
    model = cluster.http.post(f"/v1/checkpoints/{checkpoint['id']}/promote", json={"name": "shapes-lora"}).json()
    assert model["kind"] == "lora" and model["source_checkpoint_id"] == checkpoint["id"]
    assert cluster.http.delete(f"/v1/jobs/{job_id}").status_code == 204  # the model keeps its own copy
    endpoint = cluster.http.post("/v1/endpoints", json={"name": "shapes", "model": model["id"],
                                                        "defaults": {"steps": 10}}).json()
    assert endpoint["status"] == "cold"

    ask = {"prompt": "a red circle on a blue background", "seed": 42, "resolution": 128, "timeout_s": 300}
    first = cluster.http.post(f"/v1/endpoints/{endpoint['id']}/generate", json=ask, timeout=scaled(320))
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    assert first.json()["params"]["steps"] == 10 and first.json()["timings"]["load_s"] > 0
    again = cluster.http.post(f"/v1/endpoints/{endpoint['id']}/generate", json=ask, timeout=scaled(320)).json()
    images = [httpx.get(answer["image_urls"][0], timeout=scaled(30)).content for answer in (first.json(), again)]
    assert images[0].startswith(b"\x89PNG") and images[0] == images[1]  # same seed, same PNG
    from PIL import Image

    assert Image.open(io.BytesIO(images[0])).size == (128, 128)
    assert cluster.http.get(f"/v1/endpoints/{endpoint['id']}").json()["status"] == "ready"

"""The training task in this process against a real trainer child process: a LoRA job on
sana-tiny runs to the end with checkpoints, samples, events and billed GPU time; a stale task
does nothing; a tampered dataset fails the job with the reason (cancel: test_cancel.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform.storage import get_object_store
from tests.helpers.api import events, fetch, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.workers import QUICK, run_task


@pytest.mark.usefixtures("worker_settings")
def test_lora_job_runs_with_checkpoints_samples_events_and_usage(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant, images=4)
    job_id = submit(client, tenant, lora_job(dataset_id, hyperparameters=QUICK)).json()["id"]
    assert run_task(job_id) == "succeeded"

    job = get_job(client, tenant, job_id)
    assert job["status"] == "succeeded" and job["step"] == 6 and job["error"] is None
    checkpoints = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()
    assert [c["step"] for c in checkpoints] == [3, 6]
    for checkpoint in checkpoints:
        assert len(checkpoint["sample_urls"]) == 1 and checkpoint["metrics"]["loss"] > 0
        assert fetch(client, checkpoint["sample_urls"][0]).startswith(b"\x89PNG")
    stored = [info.key for info in get_object_store().list(f"tenants/{tenant.id}/jobs/{job_id}/")]
    assert any(key.endswith("step-000006/pytorch_lora_weights.safetensors") for key in stored)

    log = events(client, tenant, job_id)
    statuses = [e["payload"]["to"] for e in log if e["type"] == "status"]
    assert statuses == ["queued", "admitted", "running", "succeeded"]
    steps = [e["payload"]["step"] for e in log if e["type"] == "step"]
    assert steps == [1, 2, 3, 4, 5, 6]
    recorded = [e["payload"] for e in log if e["type"] == "checkpoint"]
    assert [(c["step"], c["checkpoint_id"]) for c in recorded] == [(c["step"], c["id"]) for c in checkpoints]
    assert not any("path" in e["payload"] for e in log)  # no worker-local paths leak to the user

    usage = client.get("/v1/usage", headers=tenant.headers).json()["pools"]
    assert usage[0]["pool"] == "gpu" and usage[0]["gpu_seconds"] > 0 and usage[0]["gpus_in_use"] == 0

    assert run_task(job_id) is None  # a redelivered task for a finished attempt does nothing
    assert get_job(client, tenant, job_id)["status"] == "succeeded"


@pytest.mark.usefixtures("worker_settings")
def test_tampered_dataset_fails_the_job_with_the_reason(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant, images=2)
    job_id = submit(client, tenant, lora_job(dataset_id, hyperparameters=QUICK)).json()["id"]
    victim = next(info.key for info in get_object_store().list(f"tenants/{tenant.id}/datasets/"))
    get_object_store().put_bytes(victim, b"not the uploaded image")

    assert run_task(job_id) == "failed"
    job = get_job(client, tenant, job_id)
    assert job["status"] == "failed" and "SHA-256 mismatch" in job["error"]
    last = [e for e in events(client, tenant, job_id) if e["type"] != "status"][-1]
    assert last["type"] == "error" and "SHA-256 mismatch" in last["payload"]["message"]

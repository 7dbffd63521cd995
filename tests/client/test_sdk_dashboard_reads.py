"""The SDK's counterparts of what the dashboard reads: a checkpoint's weights, a job's pool and base model by
name, the admin's queue across tenants, and GPU time over time (through the in-process API)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sanacloud.client import Client
from tests.helpers.api import fetch, new_job
from tests.helpers.serving import finished_job_checkpoint


def key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_the_sdk_reads_weights_names_the_queue_and_gpu_time(client: TestClient, make_tenant,  # type: ignore[no-untyped-def]
                                                            admin_headers: dict[str, str]) -> None:
    acme = make_tenant("acme", nominal_gpus=1)
    checkpoint_id = finished_job_checkpoint(acme, "lora", {"pytorch_lora_weights.safetensors": b"lora"})
    new_job(client, acme)
    waiting = new_job(client, acme)
    with Client(str(client.base_url), key(acme.headers), http_client=client) as sdk:
        (weights,) = sdk.checkpoints.files(checkpoint_id)
        assert (weights.name, weights.size_bytes, fetch(client, weights.url)) == (
            "pytorch_lora_weights.safetensors", 4, b"lora")
        job = sdk.jobs.retrieve(waiting)
        assert (job.pool, job.base_model) == ("gpu", "sana-tiny")
    with Client(str(client.base_url), key(admin_headers), http_client=client) as admin:
        queue = list(admin.admin.jobs.list(status="queued"))
        assert [(j.id, j.tenant, j.pool, j.wait_reason is not None) for j in queue] == [(waiting, "acme", "gpu", True)]
        series = admin.admin.usage.series(buckets=3, tenant_id=acme.id)
        assert len(series.starts) == 3 and series.lines == []  # nothing billed yet: no job has run

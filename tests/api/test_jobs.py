"""Jobs over HTTP: submit with resolved hyperparameters, idempotency, list, events, cancel."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sanacloud.platform.db.models import IdempotencyKey, Job
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx


def test_submit_lora_job_is_admitted_with_auto_hyperparameters(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant, images=3)
    response = submit(client, tenant, lora_job(dataset_id, name="my-lora"))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "admitted" and job["type"] == "lora" and job["name"] == "my-lora"
    assert job["attempt"] == 1 and job["borrowed"] is False and job["admitted_at"] is not None
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    hp = job["hyperparameters"]
    assert hp["resolution"] == 128 and hp["batch_size"] == 3 and hp["learning_rate"] == 1e-4
    assert hp["steps"] == 100 and hp["checkpoint_interval"] == 20 and isinstance(hp["seed"], int)
    assert hp["lora"] == {"rank": 16, "alpha": 16.0, "dropout": 0.0,
                          "targets": sorted(["to_q", "to_k", "to_v", "to_out.0", "conv_inverted", "conv_point"])}
    assert set(hp["validation_prompts"]) == {"a red square", "a green square", "a blue square"}
    assert hp["mixed_precision"] == "fp32"  # sana-tiny is a float32 checkpoint
    assert job["requested"]["hyperparameters"]["steps"] == "auto"


def test_explicit_hyperparameters_are_kept(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    body = lora_job(dataset_id, hyperparameters={"steps": 50, "learning_rate": 3e-4, "seed": 7, "resolution": 64,
                                                 "validation_prompts": ["a purple star"]},
                    lora={"rank": 8, "alpha": 4, "targets": ["to_q", "to_v"]})
    hp = submit(client, tenant, body).json()["hyperparameters"]
    assert (hp["steps"], hp["learning_rate"], hp["seed"], hp["resolution"]) == (50, 3e-4, 7, 64)
    assert hp["validation_prompts"] == ["a purple star"] and hp["checkpoint_interval"] == 10
    assert hp["lora"]["rank"] == 8 and hp["lora"]["alpha"] == 4 and hp["lora"]["targets"] == ["to_q", "to_v"]


def test_epochs_set_the_step_count(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant, images=4)
    body = lora_job(dataset_id, hyperparameters={"epochs": 3, "batch_size": 2})
    assert submit(client, tenant, body).json()["hyperparameters"]["steps"] == 6


def test_full_training_job_uses_deepspeed_defaults(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    job = submit(client, tenant, {"type": "full", "dataset_id": dataset_id, "base_model": "sana-tiny"}).json()
    assert job["hyperparameters"]["deepspeed"] == {"zero_stage": 2}
    assert job["hyperparameters"]["max_grad_norm"] == 0.1 and job["hyperparameters"]["learning_rate"] == 2e-5


def test_same_idempotency_key_gives_one_job(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    first = submit(client, tenant, lora_job(dataset_id), **{"Idempotency-Key": "retry-1"})
    second = submit(client, tenant, lora_job(dataset_id), **{"Idempotency-Key": "retry-1"})
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true" and first.json()["id"] == second.json()["id"]
    assert len(client.get("/v1/jobs", headers=tenant.headers).json()["items"]) == 1
    other = submit(client, tenant, lora_job(dataset_id), **{"Idempotency-Key": "retry-2"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_idempotency_key_with_another_body_is_refused(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    submit(client, tenant, lora_job(dataset_id), **{"Idempotency-Key": "k"})
    changed = submit(client, tenant, lora_job(dataset_id, priority=5), **{"Idempotency-Key": "k"})
    assert changed.status_code == 422 and "different request body" in changed.json()["detail"]


def test_idempotency_keys_are_per_tenant(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("a-corp"), make_tenant("b-corp")
    ids = [submit(client, t, lora_job(ready_dataset(client, t)), **{"Idempotency-Key": "same"}).json()["id"]
           for t in (a, b)]
    assert ids[0] != ids[1]


def test_concurrent_submissions_with_one_key_create_one_job(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    results: list[int] = []

    def post() -> None:
        results.append(submit(client, tenant, lora_job(dataset_id), **{"Idempotency-Key": "race"}).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] in (200, 201) and all(code in (200, 201) for code in results), results
    assert results.count(201) == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_list_filters_by_status_and_dataset(client: TestClient, tenant: TenantCtx) -> None:
    first, second = ready_dataset(client, tenant), ready_dataset(client, tenant)
    job_a = submit(client, tenant, lora_job(first)).json()["id"]
    job_b = submit(client, tenant, lora_job(second)).json()["id"]
    client.post(f"/v1/jobs/{job_a}/cancel", headers=tenant.headers)
    admitted = client.get("/v1/jobs?status=admitted", headers=tenant.headers).json()["items"]
    assert [j["id"] for j in admitted] == [job_b]
    by_dataset = client.get(f"/v1/jobs?dataset_id={first}", headers=tenant.headers).json()["items"]
    assert [j["id"] for j in by_dataset] == [job_a]


def test_cancel_admitted_job_and_read_its_events(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant))).json()["id"]
    cancelled = client.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    again = client.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]

    events = client.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).json()
    transitions = [(e["payload"]["from"], e["payload"]["to"]) for e in events["items"]]
    assert transitions == [("validating", "queued"), ("queued", "admitted"), ("admitted", "cancelled")]


def test_events_paginate_and_filter_by_type(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant))).json()["id"]
    with session_scope() as session:
        from sanacloud.platform.db.models import JobEvent

        for step in range(5):
            session.add(JobEvent(job_id=job_id, tenant_id=tenant.id, type="step", payload={"step": step}))
    page = client.get(f"/v1/jobs/{job_id}/events?type=step&limit=3", headers=tenant.headers).json()
    assert [e["payload"]["step"] for e in page["items"]] == [0, 1, 2]
    rest = client.get(f"/v1/jobs/{job_id}/events?type=step&limit=3&after={page['next_cursor']}",
                      headers=tenant.headers).json()
    assert [e["payload"]["step"] for e in rest["items"]] == [3, 4] and rest["next_cursor"] is None


def test_checkpoints_list_starts_empty(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant))).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json() == []


def test_dataset_with_unfinished_job_cannot_be_deleted(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = ready_dataset(client, tenant)
    job_id = submit(client, tenant, lora_job(dataset_id)).json()["id"]
    refused = client.delete(f"/v1/datasets/{dataset_id}", headers=tenant.headers)
    assert refused.status_code == 409 and job_id in refused.json()["detail"]
    client.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers)
    assert client.delete(f"/v1/datasets/{dataset_id}", headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()["dataset_id"] is None

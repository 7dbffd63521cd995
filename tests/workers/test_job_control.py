"""Job control for real, through the API and the worker's training task: pause a running job and
resume it (its GPU goes to another tenant meanwhile, its loss curve is the uninterrupted one's),
extend a succeeded and a running job, start a new job from a checkpoint's weights, and refuse what
a job's state does not allow."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import safetensors.torch
import torch
from fastapi.testclient import TestClient

from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from sanacloud.platform import accounts
from sanacloud.platform.db.models import Checkpoint
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.storage import get_object_store
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.workers import QUICK, run_task

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("worker_settings"),
              pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)]


def losses(client: TestClient, tenant: TenantCtx, job_id: str) -> dict[int, float]:
    """The job's loss at each step (a step trained again after a resume counts once: its last value)."""
    return {e["payload"]["step"]: e["payload"]["loss"] for e in events(client, tenant, job_id) if e["type"] == "step"}


def learning_rates(client: TestClient, tenant: TenantCtx, job_id: str) -> dict[int, float]:
    return {e["payload"]["step"]: e["payload"]["lr"] for e in events(client, tenant, job_id) if e["type"] == "step"}


def statuses(client: TestClient, tenant: TenantCtx, job_id: str) -> list[str]:
    return [e["payload"]["to"] for e in events(client, tenant, job_id) if e["type"] == "status"]


def in_background(task: Callable[[], str | None]) -> tuple[threading.Thread, list[str | None]]:
    outcome: list[str | None] = []
    thread = threading.Thread(target=lambda: outcome.append(task()))
    thread.start()
    return thread, outcome


def wait_for_step(client: TestClient, tenant: TenantCtx, job_id: str, step: int, worker: threading.Thread) -> None:
    wait_until(lambda: get_job(client, tenant, job_id)["step"] >= step or not worker.is_alive(),
               what=f"job {job_id} to train {step} steps", timeout_s=120)
    assert worker.is_alive(), "the job's task ended before it could be interrupted"


def one_gpu_pool(make_tenant: Any) -> tuple[TenantCtx, TenantCtx]:
    first, second = make_tenant("first", nominal_gpus=1), make_tenant("second", nominal_gpus=1)
    with session_scope() as session:
        accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=1)
    return first, second


def test_a_paused_job_frees_its_gpu_and_resumes_on_the_uninterrupted_loss_curve(  # type: ignore[no-untyped-def]
        client: TestClient, make_tenant) -> None:
    owner, other = one_gpu_pool(make_tenant)
    dataset = ready_dataset(client, owner, images=4)
    hyperparameters = {**QUICK, "steps": 40, "checkpoint_interval": 40, "seed": 7}
    job = submit(client, owner, lora_job(dataset, hyperparameters=hyperparameters)).json()
    worker, outcome = in_background(lambda: run_task(job["id"]))
    wait_for_step(client, owner, job["id"], 2, worker)

    waiting = submit(client, other, lora_job(ready_dataset(client, other, images=2), hyperparameters=QUICK)).json()
    assert waiting["status"] == "queued"  # the only GPU is the running job's
    asked = client.post(f"/v1/jobs/{job['id']}/pause", headers=owner.headers)
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "running" and asked.json()["pause_requested_at"] is not None
    worker.join(timeout=scaled(90))
    assert outcome == ["paused"]
    paused = get_job(client, owner, job["id"])
    assert paused["status"] == "paused" and 2 <= paused["step"] < 40 and paused["pause_requested_at"] is None
    assert get_job(client, other, waiting["id"])["status"] == "admitted"  # the freed GPU went to the other tenant
    checkpoints = client.get(f"/v1/jobs/{job['id']}/checkpoints", headers=owner.headers).json()
    assert [c["step"] for c in checkpoints] == [paused["step"]]  # written on the way out

    for path, refused_in in ((f"{job['id']}/pause", "paused"), (f"{waiting['id']}/resume", "admitted")):
        tenant = owner if path.startswith(job["id"]) else other
        refused = client.post(f"/v1/jobs/{path}", headers=tenant.headers)
        assert refused.status_code == 409 and f"is {refused_in}" in refused.json()["detail"], refused.text

    assert run_task(waiting["id"]) == "succeeded"
    assert get_job(client, owner, job["id"])["status"] == "paused"  # a free GPU does not resume it
    resumed = client.post(f"/v1/jobs/{job['id']}/resume", headers=owner.headers)
    assert resumed.status_code == 200 and resumed.json()["status"] == "admitted", resumed.text
    assert run_task(job["id"], attempt=2) == "succeeded"
    assert statuses(client, owner, job["id"]) == [
        "queued", "admitted", "running", "paused", "queued", "admitted", "running", "succeeded"]
    assert [e["payload"]["step"] for e in events(client, owner, job["id"]) if e["type"] == "resumed"] == \
        [paused["step"]]

    uninterrupted = submit(client, owner, lora_job(dataset, hyperparameters=hyperparameters)).json()
    assert run_task(uninterrupted["id"]) == "succeeded"
    assert losses(client, owner, job["id"]) == losses(client, owner, uninterrupted["id"])


def test_pause_and_resume_are_refused_where_the_state_does_not_allow_them(  # type: ignore[no-untyped-def]
        client: TestClient, make_tenant) -> None:
    owner = make_tenant("owner")
    job = submit(client, owner, lora_job(ready_dataset(client, owner, images=1), hyperparameters=QUICK)).json()
    assert job["status"] == "admitted"
    refused = client.post(f"/v1/jobs/{job['id']}/resume", headers=owner.headers)
    assert refused.status_code == 409 and "is admitted; only a paused job" in refused.json()["detail"]
    paused = client.post(f"/v1/jobs/{job['id']}/pause", headers=owner.headers)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"  # not running yet: at once
    assert run_task(job["id"]) is None  # the attempt it was admitted for is void
    client.post(f"/v1/jobs/{job['id']}/cancel", headers=owner.headers)
    for action in ("pause", "resume"):
        refused = client.post(f"/v1/jobs/{job['id']}/{action}", headers=owner.headers)
        assert refused.status_code == 409 and "is cancelled" in refused.json()["detail"], refused.text
    stranger = make_tenant("stranger")
    assert client.post(f"/v1/jobs/{job['id']}/pause", headers=stranger.headers).status_code == 404


def test_extending_a_succeeded_job_trains_on_with_the_longer_schedule(  # type: ignore[no-untyped-def]
        client: TestClient, make_tenant) -> None:
    owner = make_tenant("owner")
    dataset = ready_dataset(client, owner, images=2)
    hyperparameters = {**QUICK, "lr_scheduler": "linear", "warmup_steps": 0, "seed": 3}
    job = submit(client, owner, lora_job(dataset, hyperparameters=hyperparameters)).json()
    assert run_task(job["id"]) == "succeeded"
    too_few = client.patch(f"/v1/jobs/{job['id']}", json={"steps": 6}, headers=owner.headers)
    assert too_few.status_code == 422 and "larger than the job's 6" in too_few.json()["detail"], too_few.text

    extended = client.patch(f"/v1/jobs/{job['id']}", json={"steps": 9}, headers=owner.headers)
    assert extended.status_code == 200, extended.text
    assert extended.json()["status"] == "admitted" and extended.json()["hyperparameters"]["steps"] == 9
    assert extended.json()["finished_at"] is None
    assert run_task(job["id"], attempt=2) == "succeeded"
    done = get_job(client, owner, job["id"])
    assert done["step"] == 9
    checkpoints = client.get(f"/v1/jobs/{job['id']}/checkpoints", headers=owner.headers).json()
    assert [c["step"] for c in checkpoints] == [3, 6, 9]
    # After the extension the LR is the one a job of 9 steps has at those steps.
    nine = submit(client, owner, lora_job(dataset, hyperparameters={**hyperparameters, "steps": 9})).json()
    assert run_task(nine["id"]) == "succeeded"
    longer, reference = learning_rates(client, owner, job["id"]), learning_rates(client, owner, nine["id"])
    assert [longer[s] for s in (7, 8, 9)] == [reference[s] for s in (7, 8, 9)]
    assert longer[6] == 0.0 and reference[6] > 0  # the first run had decayed to zero at its end


def test_extending_a_running_job_checkpoints_and_continues_to_the_new_total(  # type: ignore[no-untyped-def]
        client: TestClient, make_tenant) -> None:
    owner = make_tenant("owner")
    job = submit(client, owner, lora_job(ready_dataset(client, owner, images=2), hyperparameters={
        **QUICK, "steps": 40, "checkpoint_interval": 40})).json()
    worker, outcome = in_background(lambda: run_task(job["id"]))
    wait_for_step(client, owner, job["id"], 2, worker)
    extended = client.patch(f"/v1/jobs/{job['id']}", json={"steps": 45, "name": "longer"}, headers=owner.headers)
    assert extended.status_code == 200 and extended.json()["name"] == "longer", extended.text
    worker.join(timeout=scaled(90))
    assert outcome == ["extended"]
    again = get_job(client, owner, job["id"])
    assert again["status"] == "admitted" and again["attempt"] == 2  # its GPU was free: admitted at once
    stopped_at = again["step"]
    assert run_task(job["id"], attempt=2) == "succeeded"
    assert get_job(client, owner, job["id"])["step"] == 45
    steps = [c["step"] for c in client.get(f"/v1/jobs/{job['id']}/checkpoints", headers=owner.headers).json()]
    assert steps == [stopped_at, 40, 45]  # its checkpoint_interval still holds
    assert any(e["type"] == "extended" and e["payload"]["to"] == 45 for e in events(client, owner, job["id"]))


def test_a_failed_job_cannot_be_extended(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    owner = make_tenant("owner")
    job = submit(client, owner, lora_job(ready_dataset(client, owner, images=1), hyperparameters=QUICK)).json()
    client.post(f"/v1/jobs/{job['id']}/cancel", headers=owner.headers)
    refused = client.patch(f"/v1/jobs/{job['id']}", json={"steps": 60}, headers=owner.headers)
    assert refused.status_code == 409 and "is cancelled" in refused.json()["detail"], refused.text
    unknown = client.patch(f"/v1/jobs/{job['id']}", json={"epochs": 60}, headers=owner.headers)
    assert unknown.status_code == 422, unknown.text


def lora_weights(checkpoint_id: str) -> dict[str, torch.Tensor]:
    """The LoRA export stored with a checkpoint."""
    with session_scope() as session:
        prefix = session.get_one(Checkpoint, checkpoint_id).object_prefix
    return safetensors.torch.load(b"".join(get_object_store().open(prefix + LORA_WEIGHTS)))


def test_a_job_started_from_a_checkpoint_starts_with_its_weights(  # type: ignore[no-untyped-def]
        client: TestClient, make_tenant) -> None:
    owner, stranger = make_tenant("owner"), make_tenant("stranger")
    source = submit(client, owner, lora_job(ready_dataset(client, owner, images=2), hyperparameters=QUICK,
                                            lora={"rank": 4})).json()
    assert run_task(source["id"]) == "succeeded"
    checkpoint = client.get(f"/v1/jobs/{source['id']}/checkpoints", headers=owner.headers).json()[-1]["id"]
    other_dataset = ready_dataset(client, owner, images=3)
    refusals = {
        "holds lora weights; a full job": {"type": "full", "dataset_id": other_dataset, "base_model": "sana-tiny"},
        "a LoRA of rank 4 on": lora_job(other_dataset, lora={"rank": 8}),
    }
    for said, body in refusals.items():
        refused = submit(client, owner, {**body, "from_checkpoint": checkpoint})
        assert refused.status_code == 422 and said in refused.json()["detail"], refused.text
    theirs = submit(client, stranger, lora_job(ready_dataset(client, stranger, images=1), from_checkpoint=checkpoint))
    assert theirs.status_code == 404, theirs.text

    # One step at the smallest learning rate: the weights it saves are the checkpoint's, moved by ~1e-8.
    follower = submit(client, owner, lora_job(other_dataset, from_checkpoint=checkpoint, hyperparameters={
        **QUICK, "steps": 1, "checkpoint_interval": 1, "learning_rate": 1e-8})).json()
    assert follower["from_checkpoint_id"] == checkpoint
    assert follower["hyperparameters"]["lora"] == source["hyperparameters"]["lora"]  # its adapter's shape
    blocked = client.delete(f"/v1/jobs/{source['id']}", headers=owner.headers)
    assert blocked.status_code == 409 and follower["id"] in blocked.json()["detail"], blocked.text
    assert run_task(follower["id"]) == "succeeded"
    start = next(e for e in events(client, owner, follower["id"]) if e["type"] == "start")
    assert start["payload"]["step"] == 0 and "initialized_from" not in start["payload"]  # a worker's local path
    first = client.get(f"/v1/jobs/{follower['id']}/checkpoints", headers=owner.headers).json()[0]["id"]
    trained, started_from = lora_weights(checkpoint), lora_weights(first)
    assert trained.keys() == started_from.keys()
    assert max(float(t.abs().max()) for name, t in trained.items() if "lora_B" in name) > 1e-5  # not a fresh LoRA's
    for name, weight in trained.items():
        torch.testing.assert_close(started_from[name], weight, rtol=0, atol=1e-6, msg=name)
    assert client.delete(f"/v1/jobs/{source['id']}", headers=owner.headers).status_code == 204  # once it finished

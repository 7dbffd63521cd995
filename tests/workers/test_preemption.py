"""Preemption for real: a borrowed job running on the only GPU makes room for a tenant within its
nominal quota (the trainer checkpoints, the job goes back to the queue), and resumes from that
checkpoint once the GPU is free again."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import accounts
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.workers import QUICK, run_task


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)  # the locking path a cluster takes
@pytest.mark.usefixtures("worker_settings")
def test_borrowed_job_is_preempted_for_a_nominal_tenant_and_resumes(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    lender, owner = make_tenant("lender", nominal_gpus=0, borrow=1), make_tenant("owner", nominal_gpus=1)
    with session_scope() as session:
        accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=1)
    borrowed = submit(client, lender, lora_job(ready_dataset(client, lender, images=4), hyperparameters={
        **QUICK, "steps": 60, "checkpoint_interval": 60})).json()
    assert borrowed["status"] == "admitted" and borrowed["borrowed"] is True
    outcome: list[str | None] = []
    worker = threading.Thread(target=lambda: outcome.append(run_task(borrowed["id"])))
    worker.start()
    wait_until(lambda: get_job(client, lender, borrowed["id"])["step"] >= 2 or not worker.is_alive(),
               what="the borrowed job to train two steps", timeout_s=120)
    assert worker.is_alive(), f"the borrowed job's task ended early: {outcome}"

    nominal = submit(client, owner, lora_job(ready_dataset(client, owner, images=2), hyperparameters=QUICK)).json()
    assert nominal["status"] == "queued"  # the GPU is still held until the borrower has checkpointed
    worker.join(timeout=scaled(60))
    assert outcome == ["preempted"]
    assert get_job(client, owner, nominal["id"])["status"] == "admitted"
    preempted = get_job(client, lender, borrowed["id"])
    assert preempted["status"] == "queued" and 2 <= preempted["step"] < 60
    checkpoints = client.get(f"/v1/jobs/{borrowed['id']}/checkpoints", headers=lender.headers).json()
    assert [c["step"] for c in checkpoints] == [preempted["step"]]  # written on the way out

    assert run_task(nominal["id"]) == "succeeded"  # its end frees the GPU: the borrower is admitted again
    again = get_job(client, lender, borrowed["id"])
    assert again["status"] == "admitted" and again["attempt"] == 2
    assert run_task(borrowed["id"], attempt=2) == "succeeded"
    log = events(client, lender, borrowed["id"])
    assert [e["payload"]["step"] for e in log if e["type"] == "resumed"] == [preempted["step"]]
    assert [e["payload"]["to"] for e in log if e["type"] == "status"] == [
        "queued", "admitted", "running", "preempted", "queued", "admitted", "running", "succeeded"]
    assert any(e["type"] == "preempt_requested" for e in log)

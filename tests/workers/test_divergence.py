"""A job whose trainer diverges (a learning rate far too high, within the API's ranges) fails with
the first non-finite step and the reason in its error, and keeps no checkpoint of diverged weights."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.workers import QUICK, run_task

# LoRA at learning rate 1 has NaN gradients within a few steps on sana-tiny.
DIVERGING = {**QUICK, "steps": 12, "learning_rate": 1.0, "max_grad_norm": 1e6, "warmup_steps": 0}


@pytest.mark.parametrize("backend", ["postgres-s3"], indirect=True)  # a JSON column that refuses NaN
@pytest.mark.usefixtures("worker_settings")
def test_a_diverging_job_fails_with_the_step_and_the_reason(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=4), hyperparameters=DIVERGING)
                    ).json()["id"]
    assert run_task(job_id) == "failed"

    job = get_job(client, tenant, job_id)
    assert job["status"] == "failed"
    found = re.fullmatch(r"(loss|grad norm) became (NaN|inf) at step (\d+); training diverged: try a lower "
                         r"learning_rate \(now 1\) or a smaller max_grad_norm \(now 1e\+06\)", job["error"])
    assert found, job["error"]
    bad_step = int(found.group(3))
    log = events(client, tenant, job_id)
    [diverged] = [e["payload"] for e in log if e["type"] == "error"]  # the trainer's, said once
    assert (diverged["reason"], diverged["step"], diverged["message"]) == ("diverged", bad_step, job["error"])
    # Every step logs in a run this short, so it failed at the bad step itself, before logging it.
    assert diverged["detected_at"] == bad_step == job["step"] + 1
    checkpoints = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()
    assert all(c["step"] < bad_step for c in checkpoints)

"""A promoted model keeps where it came from (job, checkpoint, step) after its job is deleted, and
pruning old checkpoints never takes a promoted one."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from sanacloud.platform.db.models import Checkpoint
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.retention import prune_checkpoints
from tests.helpers.api import new_job
from tests.helpers.backends import TenantCtx, store
from tests.helpers.lifecycle import end, record_checkpoints, start


def finished_job_with_checkpoints(client: TestClient, tenant: TenantCtx, losses: list[float]) -> tuple[str, list[str]]:
    """A succeeded LoRA job with one checkpoint per loss (steps 1, 2, ...), each holding an exported LoRA."""
    job_id = new_job(client, tenant)
    start(job_id)
    for prefix in record_checkpoints(job_id, losses):
        store().put_bytes(prefix + LORA_WEIGHTS, b"lora weights")
    end(job_id)
    with session_scope() as session:
        ids = session.scalars(select(Checkpoint.id).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step))
        return job_id, list(ids)


def test_a_promoted_model_keeps_its_source_after_the_job_is_deleted(client: TestClient, tenant: TenantCtx) -> None:
    job_id, checkpoints = finished_job_with_checkpoints(client, tenant, [0.5, 0.4])
    promoted = client.post(f"/v1/checkpoints/{checkpoints[1]}/promote", json={"name": "mine"}, headers=tenant.headers)
    assert promoted.status_code == 201, promoted.text
    source = {"source_job_id": job_id, "source_checkpoint_id": checkpoints[1], "source_step": 2}
    assert {key: promoted.json()[key] for key in source} == source

    assert client.delete(f"/v1/jobs/{job_id}", headers=tenant.headers).status_code == 204
    model = client.get(f"/v1/models/{promoted.json()['id']}", headers=tenant.headers).json()
    assert {key: model[key] for key in source} == source


def test_pruning_keeps_a_promoted_checkpoint(client: TestClient, tenant: TenantCtx) -> None:
    job_id, checkpoints = finished_job_with_checkpoints(client, tenant, [0.9, 0.2, 0.5, 0.6])
    promoted = client.post(f"/v1/checkpoints/{checkpoints[0]}/promote", json={"name": "first"}, headers=tenant.headers)
    assert promoted.status_code == 201, promoted.text
    with session_scope() as session:
        assert prune_checkpoints(session, keep_latest=1) == 1
    listed = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()
    assert [checkpoint["step"] for checkpoint in listed] == [1, 2, 4]  # promoted, best, newest

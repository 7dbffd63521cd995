"""What workers and admins do to jobs and pools, done straight on the database: a worker claims a
job and finishes it, records checkpoints; an admin resizes a pool."""

from __future__ import annotations

from sanacloud.platform import accounts
from sanacloud.platform.db.models import Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.jobs.lifecycle import Outcome
from tests.helpers.backends import store


def start(job_id: str) -> None:
    with session_scope() as session:
        attempt = session.get_one(Job, job_id).attempt
        assert lifecycle.claim(session, job_id=job_id, attempt=attempt, worker="test-host:1") is not None


def end(job_id: str, outcome: Outcome = Outcome.SUCCEEDED) -> None:
    with session_scope() as session:
        attempt = session.get_one(Job, job_id).attempt
        assert lifecycle.finish(session, job_id=job_id, attempt=attempt, outcome=outcome)


def resize(pool: str, capacity: int) -> None:
    with session_scope() as session:
        accounts.upsert_pool(session, name=pool, gpu_type="h100", capacity_gpus=capacity)


def record_checkpoints(job_id: str, losses: list[float]) -> list[str]:
    """One checkpoint per loss (steps 1, 2, ...), each with a stored trainer state; their object prefixes."""
    prefixes = []
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        for step, loss in enumerate(losses, start=1):
            prefix = f"tenants/{job.tenant_id}/jobs/{job_id}/checkpoints/step-{step:06d}/"
            store().put_bytes(prefix + "trainer.pt", b"state")
            assert lifecycle.record_checkpoint(session, job_id=job_id, attempt=job.attempt, step=step,
                                               object_prefix=prefix, metrics={"loss": loss}, sample_keys=[])
            prefixes.append(prefix)
    return prefixes

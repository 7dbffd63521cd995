"""Training jobs, their event stream, the checkpoints they write, and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, validates

from sanacloud.platform.db.base import Base, created_at_column, id_column
from sanacloud.platform.jobs.status import JobStatus


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = id_column("job")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))  # lora | full
    status: Mapped[str] = mapped_column(String(16), index=True)
    # NULL once the dataset is deleted; only finished jobs may lose their dataset.
    dataset_id: Mapped[str | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"), index=True)
    base_model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    pool_id: Mapped[str] = mapped_column(ForeignKey("gpu_pools.id", ondelete="RESTRICT"), index=True)
    gpus: Mapped[int] = mapped_column(default=1)
    priority: Mapped[int] = mapped_column(default=0)
    # What the tenant asked for, and the same with every "auto" resolved.
    requested: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None]
    # Scheduling: each admission is a new attempt; a task carrying an older attempt is stale.
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    borrowed: Mapped[bool] = mapped_column(default=False, server_default=false())  # beyond nominal: preemptible
    admitted_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]  # when the broker took this attempt's task (jobs.dispatch)
    preempt_requested_at: Mapped[datetime | None]
    pause_requested_at: Mapped[datetime | None]  # the running attempt checkpoints, then the job is paused
    # The checkpoint whose weights a new job starts from (POST /v1/jobs from_checkpoint); NULL once
    # that checkpoint is deleted (its job may be deleted only when no unfinished job starts from it).
    # use_alter: jobs and checkpoints refer to each other, so this key is added after both tables.
    from_checkpoint_id: Mapped[str | None] = mapped_column(
        ForeignKey("checkpoints.id", ondelete="SET NULL", use_alter=True), index=True)
    # The worker running the current attempt, its last sign of life, and GPU time billed so far.
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    accounted_until: Mapped[datetime | None]
    step: Mapped[int] = mapped_column(default=0, server_default="0")
    # Why a queued job is not admitted yet, and what holds the GPUs it needs (the scheduler's words),
    # and the kind of that reason (policy.WaitKind); or why an admitted one has not started (the
    # executor's word on its pod: no node has its GPUs free).
    wait_reason: Mapped[str | None] = mapped_column(Text)
    wait_kind: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @validates("status")
    def _known_status(self, _key: str, status: str) -> JobStatus:
        """A status of the state machine (any other raises ValueError); a move drops the reason the
        job waited for (a queued job's, or an admitted one's pod's)."""
        known = JobStatus(status)
        if known is not JobStatus.QUEUED or self.status != JobStatus.QUEUED:
            self.wait_reason = self.wait_kind = None
        return known


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_at_column()


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("job_id", "step"),)

    id: Mapped[str] = id_column("ckpt")
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    object_prefix: Mapped[str] = mapped_column(String(512))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sample_keys: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = created_at_column()


class IdempotencyKey(Base):
    """Remembers which resource a tenant's `Idempotency-Key` created, and for which request body."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)

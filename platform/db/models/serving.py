"""Models (base models and promoted fine-tunes), inference endpoints and their generations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sanacloud.platform.db.base import Base, created_at_column, id_column
from sanacloud.platform.serving.states import EndpointStatus, GenerationStatus


class Model(Base):
    """A base model (tenant_id NULL, visible to every tenant) or a tenant's promoted checkpoint."""

    __tablename__ = "models"

    id: Mapped[str] = id_column("mdl")
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # base | lora | full
    family: Mapped[str] = mapped_column(String(63))  # a name from the base-model catalog
    base_model_id: Mapped[str | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    # Where a promoted model came from. Plain ids, not foreign keys: the record outlives the job and
    # its checkpoints (the model has its own copy of the weights).
    source_job_id: Mapped[str | None] = mapped_column(String(40))
    source_checkpoint_id: Mapped[str | None] = mapped_column(String(40))
    source_step: Mapped[int | None]
    trigger: Mapped[str | None] = mapped_column(String(50))  # its job's trigger word, to prompt with
    uri: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="ready")
    created_at: Mapped[datetime] = created_at_column()


class Endpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[str] = id_column("ep")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("gpu_pools.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=EndpointStatus.COLD)
    min_replicas: Mapped[int] = mapped_column(default=0)
    max_replicas: Mapped[int] = mapped_column(default=1)
    # GPUs (inference replicas) held while warm: 1 on a cold start, more under load up to max_replicas.
    replicas: Mapped[int] = mapped_column(default=0, server_default="0")
    idle_timeout_s: Mapped[int] = mapped_column(default=300)
    defaults: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rate_limit_per_minute: Mapped[int] = mapped_column(default=60, server_default="60")
    last_request_at: Mapped[datetime | None]
    # The worker that holds the model while the endpoint is loading or ready, and why it failed.
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[str] = id_column("gen")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=GenerationStatus.PENDING)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image_keys: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))  # the worker sampling it, while it runs
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

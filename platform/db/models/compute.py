"""GPU pools, per-tenant quotas on them, and the GPU time each tenant used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sanacloud.platform.db.base import Base, created_at_column, id_column


class GpuPool(Base):
    __tablename__ = "gpu_pools"
    __table_args__ = (CheckConstraint("capacity_gpus >= 0", name="capacity_nonnegative"),)

    id: Mapped[str] = id_column("pool")
    name: Mapped[str] = mapped_column(String(63), unique=True)
    gpu_type: Mapped[str] = mapped_column(String(63))
    gpus_per_node: Mapped[int] = mapped_column(default=1)
    capacity_gpus: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()


class Quota(Base):
    """A tenant's share of one pool: `nominal_gpus` it is guaranteed, plus up to
    `borrowing_limit_gpus` of idle capacity it may borrow (preemptible)."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pool_id"),
        CheckConstraint("nominal_gpus >= 0 AND borrowing_limit_gpus >= 0", name="gpus_nonnegative"),
    )

    id: Mapped[str] = id_column("quo")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("gpu_pools.id", ondelete="CASCADE"), index=True)
    nominal_gpus: Mapped[int] = mapped_column(default=0)
    borrowing_limit_gpus: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = created_at_column()


class UsageRecord(Base):
    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("gpu_pools.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[str | None] = mapped_column(String(40), index=True)
    gpus: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    gpu_seconds: Mapped[float]

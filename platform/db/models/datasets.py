"""Image sets a tenant uploaded: one row per dataset, one per stored image, one per caption a
captioning job wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sanacloud.platform.db.base import Base, created_at_column, id_column


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = id_column("ds")
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    file_count: Mapped[int] = mapped_column(default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # The newest uploads' validation reports (api/datasets/service.py, upload).
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class DatasetFile(Base):
    __tablename__ = "dataset_files"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[str] = id_column("file")
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    object_key: Mapped[str] = mapped_column(String(512))
    caption: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()


class DatasetCaption(Base):
    """One caption of one image by one source: a captioner (its registered name), or "user" for the
    tenant's own caption once scored; with its CLIP score by `scorer`. A captioning job writes them."""

    __tablename__ = "dataset_captions"
    __table_args__ = (UniqueConstraint("file_id", "source"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("dataset_files.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None]
    scorer: Mapped[str | None] = mapped_column(String(100))
    job_id: Mapped[str | None] = mapped_column(String(40))  # the captioning job (a plain id: the caption outlives it)
    created_at: Mapped[datetime] = created_at_column()

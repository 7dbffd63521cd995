from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from sanacloud.api.schemas import Name, RequestModel, ResponseModel

Description = Annotated[str, StringConstraints(max_length=2000)]


class DatasetCreate(RequestModel):
    name: Name
    description: Description = ""


class DatasetUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None


class DatasetOut(ResponseModel):
    id: str
    name: str
    description: str
    file_count: int
    total_bytes: int
    created_at: datetime
    updated_at: datetime


class Rejected(ResponseModel):
    name: str
    reason: str


class DatasetStats(ResponseModel):
    captioned: int
    uncaptioned: int
    formats: dict[str, int]
    min_width: int | None
    max_width: int | None
    min_height: int | None
    max_height: int | None


class DatasetDetail(DatasetOut):
    stats: DatasetStats
    report: dict[str, Any] = Field(description="the validation report of each upload, newest last")


class UploadReport(ResponseModel):
    accepted: int
    accepted_bytes: int
    rejected: list[Rejected]
    warnings: list[str]
    on_invalid: Literal["reject", "skip"]
    dataset: DatasetOut


class DatasetFileOut(ResponseModel):
    id: str
    name: str
    caption: str
    format: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    created_at: datetime
    url: str = Field(description="presigned GET URL of the image, valid for a limited time")

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
    auto_captioned: int = Field(description="images a captioning job wrote a caption for")
    captions_by_source: dict[str, int] = Field(description="images captioned per captioner (user: yours, scored)")
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
    captions: list[CaptionOut] = Field(default_factory=list,
                                       description="what captioning jobs wrote (and your caption's score)")


class CaptionOut(ResponseModel):
    source: str = Field(description='the captioner\'s name, or "user" for your own caption once scored')
    text: str
    score: float | None = Field(description="CLIP score (0..100) of the caption against its image")
    scorer: str | None = Field(description="the scorer that gave it")
    job_id: str | None = Field(description="the captioning job that wrote it")


class CaptioningCreate(RequestModel):
    captioners: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=8,
        description="registered captioners (GET /v1/captioners) by name or id; default: the platform's")
    scorer: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="the CLIP scorer of every caption (yours too); omitted: the platform's "
        "default scorer; null: captions are not scored")
    name: Name | None = None
    pool: str | None = Field(default=None, max_length=63, description="GPU pool name; default: the tenant's pool")
    priority: int = Field(default=0, ge=-100, le=100)


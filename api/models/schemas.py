from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sanacloud.api.schemas import Name, RequestModel, ResponseModel


class Promote(RequestModel):
    name: Name


class ModelOut(ResponseModel):
    id: str
    name: str
    kind: str
    family: str
    base_model_id: str | None
    source_job_id: str | None = Field(description="the job it was promoted from (kept after the job is deleted)")
    source_checkpoint_id: str | None = Field(description="the checkpoint it was promoted from (kept likewise)")
    source_step: int | None = Field(description="the training step of that checkpoint")
    trigger: str | None = Field(description="the trigger word its job put first in every caption: prompt with it")
    status: str
    created_at: datetime


class CheckpointFileOut(ResponseModel):
    name: str = Field(description="the file's path inside the checkpoint, e.g. pytorch_lora_weights.safetensors")
    size_bytes: int
    url: str = Field(description="presigned GET URL of the file, valid for a limited time")

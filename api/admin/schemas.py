from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints

from sanacloud.api.schemas import RequestModel, ResponseModel
from sanacloud.platform.accounts import NAME_PATTERN, NAME_RULE

TenantName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class TenantCreate(RequestModel):
    name: TenantName = Field(description=NAME_RULE)
    fair_share_weight: float = Field(default=1.0, gt=0, le=1000)


class TenantUpdate(RequestModel):
    status: Literal["active", "disabled"] | None = None
    fair_share_weight: float | None = Field(default=None, gt=0, le=1000)


class TenantOut(ResponseModel):
    id: str
    name: str
    status: str
    fair_share_weight: float
    created_at: datetime


class KeyCreate(RequestModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: EmailStr
    role: Literal["tenant_admin", "member"] = "member"


class KeyOut(ResponseModel):
    id: str
    name: str
    role: str
    tenant_id: str | None
    member_id: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="the API key itself; shown only in this response, store it now")


class PoolPut(RequestModel):
    gpu_type: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    capacity_gpus: int = Field(ge=0, le=100_000)
    gpus_per_node: int = Field(default=1, ge=1, le=64)


class PoolOut(ResponseModel):
    id: str
    name: str
    gpu_type: str
    capacity_gpus: int
    gpus_per_node: int


class QuotaPut(RequestModel):
    nominal_gpus: int = Field(ge=0, le=100_000)
    borrowing_limit_gpus: int = Field(default=0, ge=0, le=100_000)


class QuotaOut(ResponseModel):
    tenant_id: str
    pool: str
    nominal_gpus: int
    borrowing_limit_gpus: int


class BaseModelImport(RequestModel):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{0,99}$")]
    family: str = Field(max_length=100, description="one of the catalog's families, e.g. sana-600m-1024")
    uri: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="where the diffusers-format folder is: a local path, or s3://bucket/prefix")


class BaseModelOut(ResponseModel):
    id: str
    name: str
    family: str
    uri: str
    status: str
    native_resolution: int
    resolutions: list[int]
    created_at: datetime

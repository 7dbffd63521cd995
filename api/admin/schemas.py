from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints

from sanacloud.api.jobs.schemas import JobOut
from sanacloud.api.schemas import RequestModel, ResponseModel
from sanacloud.platform import admin_bounds as bounds
from sanacloud.platform.accounts import NAME_PATTERN, NAME_RULE

TenantName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


def within(allowed: bounds.Range) -> Any:
    """The platform's range as the schema's constraint, so both refuse the same numbers."""
    if allowed.low_excluded:
        return Field(gt=allowed.low, le=allowed.high)
    return Field(ge=allowed.low, le=allowed.high)


def sized(allowed: bounds.Length) -> StringConstraints:
    return StringConstraints(min_length=allowed.shortest, max_length=allowed.longest)


Weight = Annotated[float, within(bounds.FAIR_SHARE_WEIGHT)]


class TenantCreate(RequestModel):
    name: TenantName = Field(description=NAME_RULE)
    fair_share_weight: Weight = 1.0


class TenantUpdate(RequestModel):
    status: Literal["active", "disabled"] | None = None
    fair_share_weight: Weight | None = None


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
    gpu_type: Annotated[str, sized(bounds.GPU_TYPE)]
    capacity_gpus: Annotated[int, within(bounds.CAPACITY_GPUS)]
    gpus_per_node: Annotated[int, within(bounds.GPUS_PER_NODE)] = 1


class PoolOut(ResponseModel):
    id: str
    name: str
    gpu_type: str
    capacity_gpus: int
    gpus_per_node: int


class QuotaPut(RequestModel):
    nominal_gpus: Annotated[int, within(bounds.NOMINAL_GPUS)]
    borrowing_limit_gpus: Annotated[int, within(bounds.BORROWING_LIMIT_GPUS)] = 0


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


class CaptionerOut(ResponseModel):
    id: str
    name: str
    kind: Literal["captioner", "scorer"]
    family: str
    uri: str
    created_at: datetime


class CaptionerImport(RequestModel):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{0,99}$")]
    kind: Literal["captioner", "scorer"]
    family: Literal["transformers"] = "transformers"
    uri: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="where the transformers model folder is (an image-to-text model for a captioner, CLIP for a "
                    "scorer): a local path on the workers, or s3://bucket/prefix; nothing is downloaded from a hub")


class AdminJobOut(JobOut):
    tenant_id: str
    tenant: str = Field(description="the tenant's name")

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from sanacloud.api.schemas import ResponseModel

IN_USE = ("GPUs held now: by admitted and running jobs, and one per model loaded for warm endpoints (an endpoint "
          "holds it until it has been idle for its idle timeout)")


class GpuHolderOut(ResponseModel):
    kind: Literal["job", "endpoint"]
    ids: list[str] = Field(description="the job; or the endpoints sharing one loaded model (and its one GPU)")
    gpus: int


class PoolUsage(ResponseModel):
    pool: str
    gpu_seconds: float = Field(description="GPU time billed in the interval (GPUs x seconds running)")
    jobs: int = Field(description="jobs and endpoints that used GPUs in the interval")
    gpus_in_use: int = Field(description=IN_USE)
    gpus_held_by_jobs: int
    gpus_held_by_endpoints: int
    holders: list[GpuHolderOut] = Field(description="what of the tenant's holds its GPUs now")
    nominal_gpus: int
    borrowing_limit_gpus: int


class CapOut(ResponseModel):
    kind: Literal["api_keys", "members", "datasets", "endpoints", "active_jobs"]
    used: int
    limit: int = Field(description="set by the platform's SANACLOUD_MAX_<KIND>_PER_TENANT")


class TenantUsage(ResponseModel):
    since: datetime
    until: datetime
    pools: list[PoolUsage]
    caps: list[CapOut] = Field(description="how much the tenant may create of each kind, and how much it has")


class UsageLineOut(ResponseModel):
    tenant_id: str
    tenant: str
    pool: str
    gpu_seconds: float
    jobs: int


class TenantGpuHolderOut(GpuHolderOut):
    tenant_id: str


class PoolNow(ResponseModel):
    pool: str
    capacity_gpus: int
    gpus_in_use: int = Field(description=IN_USE)
    gpus_held_by_jobs: int
    gpus_held_by_endpoints: int
    holders: list[TenantGpuHolderOut]
    queued_jobs: int = Field(description="jobs waiting for GPUs of the pool (each says why in its wait_reason)")


class UsageReport(ResponseModel):
    since: datetime
    until: datetime
    lines: list[UsageLineOut]
    total_gpu_seconds: float
    pools: list[PoolNow] = Field(description="each pool now: what holds its GPUs, and how many jobs wait")


class UsageSeriesLineOut(ResponseModel):
    tenant_id: str
    tenant: str
    pool: str
    gpu_seconds: list[float] = Field(description="GPU-seconds billed in each bucket, in the order of `starts`")


class UsageSeries(ResponseModel):
    since: datetime
    until: datetime
    bucket_s: float = Field(description="the width of each bucket, in seconds")
    starts: list[datetime] = Field(description="where each bucket begins")
    lines: list[UsageSeriesLineOut]

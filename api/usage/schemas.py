from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sanacloud.api.schemas import ResponseModel


class PoolUsage(ResponseModel):
    pool: str
    gpu_seconds: float = Field(description="GPU time billed in the interval (GPUs x seconds running)")
    jobs: int = Field(description="jobs and endpoints that used GPUs in the interval")
    gpus_in_use: int = Field(description="GPUs the tenant's admitted and running jobs hold now")
    nominal_gpus: int
    borrowing_limit_gpus: int


class TenantUsage(ResponseModel):
    since: datetime
    until: datetime
    pools: list[PoolUsage]


class UsageLineOut(ResponseModel):
    tenant_id: str
    tenant: str
    pool: str
    gpu_seconds: float
    jobs: int


class UsageReport(ResponseModel):
    since: datetime
    until: datetime
    lines: list[UsageLineOut]
    total_gpu_seconds: float

"""What the API returns, as pydantic models named after its schemas (without `Out`).

Field names are the OpenAPI document's; each model names the schema it mirrors (`schema_name`),
and tests/client/test_sdk_contract.py checks them against the live document. Unknown fields are
kept, so that a newer server does not break an older SDK.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic
from pydantic import ConfigDict, PrivateAttr

if TYPE_CHECKING:
    from sanacloud.client._drivers import AsyncDriver, SyncDriver

TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
TERMINAL_GENERATION_STATUSES = frozenset({"succeeded", "failed"})


class APIModel(pydantic.BaseModel):
    model_config = ConfigDict(extra="allow")
    schema_name: ClassVar[str]


class Alive(APIModel):
    schema_name = "Alive"
    status: str = "ok"


class Ready(APIModel):
    schema_name = "Ready"
    status: str = "ready"


class Dataset(APIModel):
    schema_name = "DatasetOut"
    id: str
    name: str
    description: str
    file_count: int
    total_bytes: int
    created_at: datetime
    updated_at: datetime


class DatasetStats(APIModel):
    schema_name = "DatasetStats"
    captioned: int
    uncaptioned: int
    formats: dict[str, int]
    min_width: int | None
    max_width: int | None
    min_height: int | None
    max_height: int | None
    auto_captioned: int
    captions_by_source: dict[str, int]


class DatasetDetail(Dataset):
    schema_name = "DatasetDetail"
    stats: DatasetStats
    report: dict[str, Any]


class Caption(APIModel):
    schema_name = "CaptionOut"
    source: str
    text: str
    score: float | None
    scorer: str | None
    job_id: str | None


class Captioner(APIModel):
    schema_name = "CaptionerOut"
    id: str
    name: str
    kind: str
    family: str
    uri: str
    created_at: datetime


class DatasetFile(APIModel):
    schema_name = "DatasetFileOut"
    id: str
    name: str
    caption: str
    format: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    created_at: datetime
    url: str
    captions: list[Caption] = []


class Rejected(APIModel):
    schema_name = "Rejected"
    name: str
    reason: str


class UploadReport(APIModel):
    schema_name = "UploadReport"
    accepted: int
    accepted_bytes: int
    rejected: list[Rejected]
    warnings: list[str]
    on_invalid: str
    dataset: Dataset


class Job(APIModel):
    schema_name = "JobOut"
    id: str
    name: str
    type: str
    status: str
    dataset_id: str | None
    base_model_id: str
    base_model: str
    pool_id: str
    pool: str
    gpus: int
    priority: int
    requested: dict[str, Any]
    hyperparameters: dict[str, Any]
    error: str | None
    cancel_requested_at: datetime | None
    pause_requested_at: datetime | None
    from_checkpoint_id: str | None
    attempt: int
    borrowed: bool
    step: int
    wait_reason: str | None
    created_at: datetime
    updated_at: datetime
    admitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """The job ended: succeeded, failed or cancelled."""
        return self.status in TERMINAL_JOB_STATUSES

    @property
    def stopped(self) -> bool:
        """Nothing more happens to the job unless someone acts: it ended, or it is paused."""
        return self.finished or self.status == "paused"


class AdminJob(Job):
    """A job as a platform admin sees it, across tenants."""

    schema_name = "AdminJobOut"
    tenant_id: str
    tenant: str


class JobEvent(APIModel):
    schema_name = "JobEventOut"
    id: int
    type: str
    payload: dict[str, Any]
    created_at: datetime


class Checkpoint(APIModel):
    schema_name = "CheckpointOut"
    id: str
    step: int
    metrics: dict[str, Any]
    created_at: datetime
    sample_urls: list[str]


class CheckpointFile(APIModel):
    schema_name = "CheckpointFileOut"
    name: str
    size_bytes: int
    url: str


class Model(APIModel):
    schema_name = "ModelOut"
    id: str
    name: str
    kind: str
    family: str
    base_model_id: str | None
    source_job_id: str | None
    source_checkpoint_id: str | None
    source_step: int | None
    trigger: str | None
    status: str
    created_at: datetime


class BaseModelInfo(APIModel):
    schema_name = "BaseModelOut"
    id: str
    name: str
    family: str
    uri: str
    status: str
    native_resolution: int
    resolutions: list[int]
    created_at: datetime


class Endpoint(APIModel):
    schema_name = "EndpointOut"
    id: str
    name: str
    model_id: str
    pool_id: str
    status: str
    min_replicas: int
    max_replicas: int
    replicas: int
    idle_timeout_s: int
    rate_limit_per_minute: int
    defaults: dict[str, Any]
    last_request_at: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class Generation(APIModel):
    """One generate request; once `finished`, `images()` downloads its PNGs and `save()` writes them."""

    schema_name = "GenerationOut"
    id: str
    endpoint_id: str
    status: str
    params: dict[str, Any]
    timings: dict[str, Any]
    image_urls: list[str]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    _driver: SyncDriver | AsyncDriver | None = PrivateAttr(default=None)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_GENERATION_STATUSES

    def images(self) -> list[bytes]:
        """The PNGs, downloaded from their presigned URLs (no API key is sent to them)."""
        from sanacloud.client.downloads import download_sync

        return download_sync(self, self._driver)

    def save(self, directory: str | Path, prefix: str | None = None) -> list[Path]:
        """Writes the PNGs as `<prefix>-<n>.png` (prefix: the generation's id) into `directory`."""
        from sanacloud.client.downloads import write_images

        return write_images(self.images(), directory, prefix or self.id)

    async def aimages(self) -> list[bytes]:
        """`images()` for async code."""
        from sanacloud.client.downloads import download_async

        return await download_async(self, self._driver)

    async def asave(self, directory: str | Path, prefix: str | None = None) -> list[Path]:
        """`save()` for async code."""
        from sanacloud.client.downloads import write_images

        return write_images(await self.aimages(), directory, prefix or self.id)


class Cap(APIModel):
    schema_name = "CapOut"
    kind: str
    used: int
    limit: int


class GpuHolder(APIModel):
    schema_name = "GpuHolderOut"
    kind: str
    ids: list[str]
    gpus: int


class TenantGpuHolder(GpuHolder):
    schema_name = "TenantGpuHolderOut"
    tenant_id: str


class PoolUsage(APIModel):
    schema_name = "PoolUsage"
    pool: str
    gpu_seconds: float
    jobs: int
    gpus_in_use: int
    gpus_held_by_jobs: int
    gpus_held_by_endpoints: int
    holders: list[GpuHolder]
    nominal_gpus: int
    borrowing_limit_gpus: int


class Usage(APIModel):
    schema_name = "TenantUsage"
    since: datetime
    until: datetime
    pools: list[PoolUsage]
    caps: list[Cap]


class UsageLine(APIModel):
    schema_name = "UsageLineOut"
    tenant_id: str
    tenant: str
    pool: str
    gpu_seconds: float
    jobs: int


class PoolNow(APIModel):
    schema_name = "PoolNow"
    pool: str
    capacity_gpus: int
    gpus_in_use: int
    gpus_held_by_jobs: int
    gpus_held_by_endpoints: int
    holders: list[TenantGpuHolder]
    queued_jobs: int


class UsageReport(APIModel):
    schema_name = "UsageReport"
    since: datetime
    until: datetime
    lines: list[UsageLine]
    total_gpu_seconds: float
    pools: list[PoolNow]


class UsageSeriesLine(APIModel):
    schema_name = "UsageSeriesLineOut"
    tenant_id: str
    tenant: str
    pool: str
    gpu_seconds: list[float]


class UsageSeries(APIModel):
    schema_name = "UsageSeries"
    since: datetime
    until: datetime
    bucket_s: float
    starts: list[datetime]
    lines: list[UsageSeriesLine]


class Member(APIModel):
    schema_name = "MemberOut"
    id: str
    email: str
    role: str
    created_at: datetime


class Key(APIModel):
    schema_name = "KeyOut"
    id: str
    name: str
    role: str
    tenant_id: str | None
    member_id: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(Key):
    """A new key: `key` is its secret, shown this once."""

    schema_name = "KeyCreated"
    key: str


class Tenant(APIModel):
    schema_name = "TenantOut"
    id: str
    name: str
    status: str
    fair_share_weight: float
    created_at: datetime


class Pool(APIModel):
    schema_name = "PoolOut"
    id: str
    name: str
    gpu_type: str
    capacity_gpus: int
    gpus_per_node: int


class Quota(APIModel):
    schema_name = "QuotaOut"
    tenant_id: str
    pool: str
    nominal_gpus: int
    borrowing_limit_gpus: int


class Webhook(APIModel):
    schema_name = "WebhookOut"
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    """A new webhook: `secret` signs its deliveries (sanacloud.client.webhooks.verify), shown this once."""

    schema_name = "WebhookCreated"
    secret: str


class WebhookDelivery(APIModel):
    schema_name = "WebhookDeliveryOut"
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


BOUND_MODELS: tuple[type[APIModel], ...] = (
    Alive, Ready, Dataset, DatasetStats, DatasetDetail, DatasetFile, Rejected, UploadReport, Job, AdminJob, JobEvent,
    Checkpoint, CheckpointFile, Model, BaseModelInfo, Endpoint, Generation, Cap, GpuHolder, TenantGpuHolder,
    PoolUsage, Usage, UsageLine, PoolNow, UsageReport, UsageSeriesLine, UsageSeries, Member, Key, KeyCreated, Tenant,
    Pool, Quota, Webhook, WebhookCreated, WebhookDelivery,
)

"""Every table, importable from one place (Alembic's autogenerate reads Base.metadata)."""

from sanacloud.platform.db.base import Base
from sanacloud.platform.db.models.compute import GpuPool, Quota, UsageRecord
from sanacloud.platform.db.models.datasets import Dataset, DatasetCaption, DatasetFile
from sanacloud.platform.db.models.jobs import Checkpoint, IdempotencyKey, Job, JobEvent
from sanacloud.platform.db.models.serving import Endpoint, Generation, Model
from sanacloud.platform.db.models.tenancy import ApiKey, AuditEntry, Member, Role, Tenant, TenantStatus
from sanacloud.platform.db.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "ApiKey", "AuditEntry", "Base", "Checkpoint", "Dataset", "DatasetCaption", "DatasetFile", "DeliveryStatus",
    "Endpoint", "Generation", "GpuPool", "IdempotencyKey", "Job", "JobEvent", "Member", "Model", "Quota", "Role",
    "Tenant", "TenantStatus", "UsageRecord", "Webhook", "WebhookDelivery",
]

"""Platform administration: needs a platform admin's key."""

from __future__ import annotations

from datetime import datetime

from sanacloud.client._call import Call, parse_as, parse_list, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.models import (
    AdminJob,
    BaseModelInfo,
    Captioner,
    KeyCreated,
    Pool,
    Quota,
    Tenant,
    UsageReport,
    UsageSeries,
)
from sanacloud.client.pagination import PageCall, parse_page
from sanacloud.client.resources.account import moment


class Tenants(Resource[D]):
    @operation("admin-tenants-create")
    def create(self, name: str, *, fair_share_weight: float | None = None) -> Call[Tenant]:
        return Call("admin-tenants-create", parse_as(Tenant),
                    json=without_none(name=name, fair_share_weight=fair_share_weight))

    @paged("admin-tenants-list")
    def list(self, *, limit: int | None = None) -> PageCall[Tenant]:
        return PageCall(Call("admin-tenants-list", parse_page(Tenant), params=without_none(limit=limit)))

    @operation("admin-tenants-get")
    def retrieve(self, tenant_id: str) -> Call[Tenant]:
        return Call("admin-tenants-get", parse_as(Tenant), path={"tenant_id": tenant_id})

    @operation("admin-tenants-update")
    def update(self, tenant_id: str, *, status: str | None = None,
               fair_share_weight: float | None = None) -> Call[Tenant]:
        return Call("admin-tenants-update", parse_as(Tenant), path={"tenant_id": tenant_id},
                    json=without_none(status=status, fair_share_weight=fair_share_weight))


class AdminKeys(Resource[D]):
    @operation("admin-keys-create")
    def create(self, tenant_id: str, *, name: str, email: str, role: str | None = None) -> Call[KeyCreated]:
        """A key for `email` (made a member of the tenant if it is not one yet)."""
        return Call("admin-keys-create", parse_as(KeyCreated), path={"tenant_id": tenant_id},
                    json=without_none(name=name, email=email, role=role))


class Quotas(Resource[D]):
    @operation("admin-quotas-list")
    def list(self, tenant_id: str) -> Call[list[Quota]]:
        return Call("admin-quotas-list", parse_list(Quota), path={"tenant_id": tenant_id})

    @operation("admin-quotas-put")
    def put(self, tenant_id: str, pool: str, *, nominal_gpus: int,
            borrowing_limit_gpus: int | None = None) -> Call[Quota]:
        return Call("admin-quotas-put", parse_as(Quota), path={"tenant_id": tenant_id, "pool": pool},
                    json=without_none(nominal_gpus=nominal_gpus, borrowing_limit_gpus=borrowing_limit_gpus))


class Pools(Resource[D]):
    @operation("admin-pools-list")
    def list(self) -> Call[list[Pool]]:
        return Call("admin-pools-list", parse_list(Pool))

    @operation("admin-pools-put")
    def put(self, pool: str, *, gpu_type: str, capacity_gpus: int, gpus_per_node: int | None = None) -> Call[Pool]:
        return Call("admin-pools-put", parse_as(Pool), path={"pool": pool},
                    json=without_none(gpu_type=gpu_type, capacity_gpus=capacity_gpus, gpus_per_node=gpus_per_node))


class AdminBaseModels(Resource[D]):
    @operation("admin-base-models-import")
    def import_model(self, *, name: str, family: str, uri: str) -> Call[BaseModelInfo]:
        """Registers an official checkpoint (a diffusers-format folder at `uri` in the object store)."""
        return Call("admin-base-models-import", parse_as(BaseModelInfo), json={"name": name, "family": family,
                                                                                "uri": uri})


class AdminCaptioners(Resource[D]):
    @operation("admin-captioners-import")
    def import_model(self, *, name: str, kind: str, uri: str, family: str = "transformers") -> Call[Captioner]:
        """Registers a captioner (kind "captioner": a transformers image-to-text folder) or a CLIP scorer
        (kind "scorer") at `uri`: a path on the workers or s3://bucket/prefix."""
        return Call("admin-captioners-import", parse_as(Captioner),
                    json={"name": name, "kind": kind, "uri": uri, "family": family})


class AdminUsage(Resource[D]):
    @operation("admin-usage-report")
    def retrieve(self, *, since: datetime | str | None = None, until: datetime | str | None = None,
                 tenant_id: str | None = None) -> Call[UsageReport]:
        return Call("admin-usage-report", parse_as(UsageReport),
                    params=without_none(since=moment(since), until=moment(until), tenant_id=tenant_id))

    @operation("admin-usage-series")
    def series(self, *, since: datetime | str | None = None, until: datetime | str | None = None,
               buckets: int | None = None, tenant_id: str | None = None) -> Call[UsageSeries]:
        """GPU-seconds per tenant and pool in each of `buckets` equal spans of [since, until)."""
        return Call("admin-usage-series", parse_as(UsageSeries), params=without_none(
            since=moment(since), until=moment(until), buckets=buckets, tenant_id=tenant_id))


class AdminJobs(Resource[D]):
    @paged("admin-jobs-list")
    def list(self, *, status: str | None = None, tenant_id: str | None = None, pool: str | None = None,
             limit: int | None = None) -> PageCall[AdminJob]:
        """Every tenant's jobs; `status="queued"` is the queue, each job with its `wait_reason`."""
        return PageCall(Call("admin-jobs-list", parse_page(AdminJob), params=without_none(
            status=status, tenant_id=tenant_id, pool=pool, limit=limit)))


class Admin(Resource[D]):
    def __init__(self, driver: D) -> None:
        super().__init__(driver)
        self.tenants = Tenants(driver)
        self.keys = AdminKeys(driver)
        self.quotas = Quotas(driver)
        self.pools = Pools(driver)
        self.base_models = AdminBaseModels(driver)
        self.captioners = AdminCaptioners(driver)
        self.usage = AdminUsage(driver)
        self.jobs = AdminJobs(driver)

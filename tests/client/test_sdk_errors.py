"""The SDK against an API process on PostgreSQL, over real HTTP: lists paged through more than one
page, each error status raised as its class with the API's message, and the refusals that pass by
themselves (429 from the rate limiter, 503 from a lock held too long) retried after `Retry-After`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from sanacloud.client import (
    APIConnectionError,
    APITimeoutError,
    Client,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)
from tests.helpers.cluster import start_api
from tests.helpers.deadlines import scaled
from tests.helpers.sdk import LiveAPI, image_folder, postgres_api
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow
LOCK_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Tenant:
    id: str
    admin_key: str
    member_key: str


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAPI]:
    with postgres_api(tmp_path_factory.mktemp("pg"), db_lock_timeout_s=str(LOCK_TIMEOUT_S)) as live:
        yield live


def make_tenant(api: LiveAPI, name: str) -> Tenant:
    with Client(api.url, api.api_key) as admin:
        tenant = admin.admin.tenants.create(name)
        admin.admin.pools.put("gpu", gpu_type="h100", capacity_gpus=8)
        admin.admin.quotas.put(tenant.id, "gpu", nominal_gpus=2)
        tenant_admin = admin.admin.keys.create(tenant.id, name="admin", email=f"admin@{name}.example.com",
                                               role="tenant_admin")
        member = admin.admin.keys.create(tenant.id, name="member", email=f"member@{name}.example.com")
        return Tenant(tenant.id, tenant_admin.key, member.key)


@pytest.fixture(scope="module")
def acme(api: LiveAPI) -> Tenant:
    return make_tenant(api, "acme")


def test_lists_and_job_events_page_through_several_pages(api: LiveAPI, tmp_path: Path) -> None:
    with Client(api.url, make_tenant(api, "pager").admin_key) as client:
        made = [client.datasets.create(f"paged-{i}") for i in range(3)]
        first = client.datasets.list(limit=2)
        assert len(first.items) == 2 and first.next_cursor is not None
        assert [[d.id for d in page.items] for page in first.pages()] == [[made[2].id, made[1].id], [made[0].id]]
        assert [d.id for d in first] == [d.id for d in reversed(made)]  # newest first, across the pages

        client.datasets.upload(made[0].id, image_folder(tmp_path / "images", 2))
        job = client.jobs.create(dataset_id=made[0].id, base_model="sana-tiny", pool="gpu", idempotency_key="once")
        again = client.jobs.create(dataset_id=made[0].id, base_model="sana-tiny", pool="gpu", idempotency_key="once")
        assert again.id == job.id
        client.jobs.cancel(job.id)  # no worker runs here: cancelled at once
        ended = client.jobs.wait(job.id, timeout=scaled(60), poll_interval=0.2)
        assert ended.status == "cancelled"
        events = client.jobs.events(job.id, limit=1)
        assert len(events.items) == 1 and events.next_cursor == events.items[0].id
        one_by_one = list(events)
        assert len(list(events.pages())) >= 3 and len(one_by_one) >= 3
        assert [e.id for e in one_by_one] == [e.id for e in client.jobs.events(job.id).items]
        assert [e.payload["to"] for e in client.jobs.events(job.id, type="status")][-1] == "cancelled"

        with pytest.raises(Conflict, match="nothing to cancel") as conflict:
            client.jobs.cancel(job.id)
        assert conflict.value.status_code == 409 and conflict.value.problem["status"] == 409


def test_each_error_status_raises_its_class_with_the_apis_message(api: LiveAPI, acme: Tenant) -> None:
    other = make_tenant(api, "other")
    with Client(api.url, other.admin_key) as theirs:
        hidden = theirs.datasets.create("theirs")
    with Client(api.url, acme.admin_key) as client:
        with pytest.raises(NotFound) as missing:
            client.datasets.retrieve(hidden.id)
        assert str(missing.value) == f"dataset {hidden.id!r} does not exist" == missing.value.problem["detail"]
        assert missing.value.request_id == missing.value.response.headers["x-request-id"]
        assert (missing.value.request_id or "").startswith("req_")

        with pytest.raises(PermissionDenied, match="platform admin"):
            client.admin.tenants.list()

        with pytest.raises(PayloadTooLarge) as too_large:
            client.datasets.create("big", description="x" * (1024**2 + 1))
        assert too_large.value.status_code == 413 and "SANACLOUD_MAX_JSON_BYTES" in str(too_large.value)

        with pytest.raises(InvalidRequest) as invalid:
            client.jobs.create(dataset_id=hidden.id, base_model="sana-tiny", hyperparameters={"steps": "many"})
        assert invalid.value.status_code == 422
        assert any("steps" in error["loc"] for error in invalid.value.errors), invalid.value.errors
        assert str(invalid.value) == invalid.value.problem["detail"]

    with Client(api.url, "sk_not_a_key") as stranger, pytest.raises(Unauthorized, match="invalid or revoked"):
        stranger.datasets.list()

    with Client(f"http://127.0.0.1:{free_port()}", "sk_any", max_retries=1) as nowhere, \
            pytest.raises(APIConnectionError, match="cannot reach the API"):
        nowhere.health()
    with Client(api.url, acme.admin_key, timeout=1e-6, max_retries=0) as hasty, \
            pytest.raises(APITimeoutError, match="did not answer in time"):
        hasty.datasets.list()


def test_a_busy_database_is_retried_after_retry_after(api: LiveAPI, acme: Tenant) -> None:
    with Client(api.url, acme.admin_key) as client:
        dataset = client.datasets.create("before")
    refused = threading.Event()

    def saw(response: httpx.Response) -> None:
        if response.status_code == 503:
            refused.set()

    with psycopg.connect(api.env["SANACLOUD_DATABASE_URL"].replace("+psycopg", "")) as holder:
        holder.execute("SELECT id FROM datasets WHERE id = %s FOR UPDATE", (dataset.id,))
        with Client(api.url, acme.admin_key, max_retries=0) as impatient, pytest.raises(ServiceUnavailable) as busy:
            impatient.datasets.update(dataset.id, name="never")
        assert busy.value.retry_after == 2 and "SANACLOUD_DB_LOCK_TIMEOUT_S" in str(busy.value)

        with httpx.Client(event_hooks={"response": [saw]}) as http, \
                Client(api.url, acme.admin_key, http_client=http) as patient, ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            renamed = pool.submit(patient.datasets.update, dataset.id, name="after")
            assert refused.wait(scaled(30)), "the API never answered 503 while the row was locked"
            holder.rollback()  # the lock goes: the SDK's retry, after Retry-After, succeeds
            assert renamed.result(timeout=scaled(30)).name == "after"
            assert time.monotonic() - started >= LOCK_TIMEOUT_S + busy.value.retry_after


def test_the_rate_limit_is_retried_after_retry_after(api: LiveAPI, acme: Tenant, tmp_path: Path) -> None:
    limited_env = {**api.env, "SANACLOUD_RATE_LIMIT_BURST": "2", "SANACLOUD_RATE_LIMIT_PER_S": "0.5"}
    with ExitStack() as stack:
        url = start_api(stack, limited_env, tmp_path / "limited.log")
        with Client(url, acme.member_key, max_retries=0) as impatient:
            impatient.datasets.list()
            impatient.datasets.list()
            with pytest.raises(RateLimited, match="SANACLOUD_RATE_LIMIT_BURST") as limited:
                impatient.datasets.list()
        assert limited.value.retry_after == 2
        statuses: list[int] = []
        with httpx.Client(event_hooks={"response": [lambda response: statuses.append(response.status_code)]}) as http, \
                Client(url, acme.member_key, http_client=http) as patient:
            started = time.monotonic()
            patient.datasets.list()
            assert time.monotonic() - started >= limited.value.retry_after
        assert statuses == [429, 200], "retried once, after the wait the API asked for"

"""The admin page in a browser: GPUs in use per pool and tenant against quota and borrowing limit, GPU-hours
over time, the queue with each job's reason; setting a quota from the page changes the chart (and admits the
waiting job); a bad number is refused next to its field; a tenant's key gets no admin page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.helpers.dashboard import Platform, ms, screenshot, sign_in
from tests.helpers.flow import wait_for_status
from tests.helpers.images import captioned_zip

pytestmark = pytest.mark.slow
POOL = "h100"  # a pool no worker of `sanacloud up` serves: its admitted jobs hold their GPUs without running


@dataclass(frozen=True)
class Busy:
    holding: str  # the job holding the tenant's 2 nominal GPUs of the pool
    waiting: str  # the job waiting for a third
    wait_reason: str


@pytest.fixture(scope="module")
def busy(platform: Platform) -> Busy:
    """The default tenant has trained a little on the local pool (GPU time billed), and holds its quota of POOL
    with one job while another waits."""
    with platform.http(platform.admin_key) as admin, platform.http() as tenant:
        dataset = tenant.post("/v1/datasets", json={"name": "one"}).json()["id"]
        assert tenant.post(f"/v1/datasets/{dataset}/files",
                           files=[("files", ("set.zip", captioned_zip(1)))]).status_code == 201
        job = {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny"}
        trained = tenant.post("/v1/jobs", json={**job, "pool": "local", "hyperparameters": {
            "steps": 1, "batch_size": 1, "resolution": 64, "validation_prompts": ["a red square"]}}).json()
        assert admin.put(f"/v1/admin/pools/{POOL}", json={"gpu_type": "h100", "capacity_gpus": 4}).status_code == 200
        default = next(t["id"] for t in admin.get("/v1/admin/tenants").json()["items"] if t["name"] == "default")
        assert admin.put(f"/v1/admin/tenants/{default}/quotas/{POOL}", json={"nominal_gpus": 2}).status_code == 200
        holding = tenant.post("/v1/jobs", json={**job, "pool": POOL, "gpus": 2}).json()
        waiting = tenant.post("/v1/jobs", json={**job, "pool": POOL, "gpus": 1}).json()
        assert (holding["status"], waiting["status"]) == ("admitted", "queued"), (holding, waiting)
        wait_for_status(tenant, trained["id"], "succeeded", timeout_s=240)
    return Busy(holding["id"], waiting["id"], waiting["wait_reason"])


def bar(page: Page, tenant: str, pool: str) -> Locator:
    return page.locator(f'.gpu-bars figure[data-pool="{pool}"] .gpu-bar-row[data-tenant="{tenant}"]')


def test_the_admin_sees_gpus_against_quotas_gpu_hours_and_the_queue(platform: Platform, page: Page,
                                                                   busy: Busy) -> None:
    sign_in(page, platform.url, platform.admin_key)
    expect(page.get_by_role("heading", name="Platform")).to_be_visible()  # an admin's first page
    expect(bar(page, "default", POOL)).to_have_attribute("data-in-use", "2")
    expect(bar(page, "default", POOL)).to_have_attribute("data-nominal", "2")
    expect(bar(page, "default", POOL)).to_contain_text("2 in use · nominal 2 · may borrow 0")
    row = page.locator(f'table.queue tr[data-job-id="{busy.waiting}"]')
    expect(row.locator(".wait-reason")).to_have_text(busy.wait_reason)
    expect(row).to_contain_text(POOL)
    assert busy.holding in busy.wait_reason  # the reason names what holds the GPUs

    page.get_by_label("Range").select_option(label="the last hour")
    chart = page.locator('[data-chart="gpu-hours"]')
    expect(chart).to_have_attribute("data-bucket-s", "60")  # the hour in minutes
    expect(chart).to_have_attribute("data-lines", "1", timeout=ms(30))  # the trained job's GPU time
    expect(chart.locator("canvas")).to_have_count(1)
    screenshot(page, "admin")


def test_setting_a_quota_changes_the_chart_and_admits_the_waiting_job(platform: Platform, page: Page,
                                                                      busy: Busy) -> None:
    sign_in(page, platform.url, platform.admin_key)
    form = page.get_by_role("form", name="set a quota")
    form.get_by_label("Tenant").select_option(label="default")
    form.get_by_label("Pool").select_option(POOL)
    expect(form.get_by_label("Nominal GPUs")).to_have_value("2")
    form.get_by_label("Nominal GPUs").fill("-1")
    form.get_by_role("button", name="Save the quota").click()
    expect(form.locator('.field-error[data-field="nominal_gpus"]')).to_contain_text("greater than or equal to 0")
    expect(bar(page, "default", POOL)).to_have_attribute("data-nominal", "2")

    form.get_by_label("Nominal GPUs").fill("3")
    form.get_by_role("button", name="Save the quota").click()
    expect(form.get_by_role("status")).to_contain_text(f"default on {POOL}: nominal 3, may borrow 0")
    expect(bar(page, "default", POOL)).to_have_attribute("data-nominal", "3")
    expect(bar(page, "default", POOL)).to_have_attribute("data-in-use", "3")  # the waiting job got its GPU
    expect(page.locator(f'table.queue tr[data-job-id="{busy.waiting}"]')).to_have_count(0)
    expect(page.get_by_text("No job is waiting.")).to_be_visible()
    screenshot(page, "admin-quota", documented=False)


def test_a_tenants_key_gets_no_admin_page(platform: Platform, page: Page) -> None:
    sign_in(page, platform.url, platform.key)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto(f"{platform.url}/dashboard/#/admin")
    expect(page.get_by_role("alert")).to_contain_text("only a platform admin may do this")
    expect(page.locator(".gpu-bars")).to_have_count(0)

"""Signing in, the runs list and a run's page, in headless chromium against a real `sanacloud up`: a sana-tiny
LoRA run trains on the CPU while the page watches its loss curve grow, its checkpoints' sample grid fill in,
compares two steps, promotes one and downloads its weights; a second run waits for the one GPU and says why.
Signed in as another tenant, none of it can be seen or reached, not even by editing the page's URL: the API
answers that tenant 404 for each, and the page says not found."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Response, expect

from tests.helpers.dashboard import Platform, ms, screenshot, sign_in
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.flow import wait_for_job, wait_for_status
from tests.helpers.images import captioned_zip

pytestmark = pytest.mark.slow
PROMPTS = ["a red square", "a blue square"]
# Long enough to be watched: it is still training when the queued run's test looks.
TRAINING = {"steps": 400, "checkpoint_interval": 8, "batch_size": 1, "resolution": 64, "validation_prompts": PROMPTS}


@pytest.fixture(scope="module")
def http(platform: Platform) -> Iterator[httpx.Client]:
    with platform.http() as client:
        yield client


@pytest.fixture(scope="module")
def dataset_id(http: httpx.Client) -> str:
    dataset = http.post("/v1/datasets", json={"name": "squares"}).json()["id"]
    upload = http.post(f"/v1/datasets/{dataset}/files", files=[("files", ("set.zip", captioned_zip(4)))])
    assert upload.status_code == 201, upload.text
    return str(dataset)


@pytest.fixture(scope="module")
def training(http: httpx.Client, dataset_id: str) -> Iterator[dict[str, Any]]:
    body = {"type": "lora", "name": "watched", "dataset_id": dataset_id, "base_model": "sana-tiny",
            "hyperparameters": TRAINING}
    job = http.post("/v1/jobs", json=body)
    assert job.status_code == 201, job.text
    yield dict(wait_for_status(http, job.json()["id"], "running"))
    http.post(f"/v1/jobs/{job.json()['id']}/cancel")  # so that the platform stops at once


def wait_for_more(items: Locator) -> None:
    shown = items.count()
    wait_until(lambda: items.count() > shown, what=f"more than {shown} of {items}", timeout_s=60, every_s=0.3)


def chart_points(page: Page, title: str) -> int:
    return int(page.locator(f'[data-chart="{title}"]').get_attribute("data-points") or 0)


def test_a_wrong_key_shows_the_apis_message_and_the_key_stays_out_of_urls_and_storage(page: Page,
                                                                                       platform: Platform) -> None:
    page.goto(f"{platform.url}/")
    expect(page).to_have_url(f"{platform.url}/dashboard/")
    page.get_by_label("API key").fill("sk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    refused = httpx.get(f"{platform.url}/v1/jobs", headers={"Authorization": "Bearer sk_not_a_key"}).json()
    expect(page.get_by_role("alert")).to_have_text(refused["detail"])

    sign_in(page, platform.url, platform.key)
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    assert platform.key not in page.url
    assert page.evaluate("() => [localStorage.length, document.cookie]") == [0, ""]
    assert page.evaluate("() => Object.values(sessionStorage)") == [platform.key]
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)  # a tenant's key
    screenshot(page, "runs-empty", documented=False)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_key_revoked_while_signed_in_returns_to_sign_in_with_the_apis_message(page: Page,
                                                                               platform: Platform) -> None:
    with platform.http() as http:
        created = http.post("/v1/keys", json={"name": "browser"}).json()
        sign_in(page, platform.url, created["key"])
        expect(page.get_by_role("heading", name="Runs")).to_be_visible()
        assert http.delete(f"/v1/keys/{created['id']}").status_code == 200
    refused = httpx.get(f"{platform.url}/v1/jobs", headers={"Authorization": f"Bearer {created['key']}"}).json()
    expect(page.get_by_role("alert")).to_have_text(refused["detail"], timeout=ms(20))  # at the list's next poll
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_platform_admins_key_sees_the_admin_section(page: Page, platform: Platform) -> None:
    sign_in(page, platform.url, platform.admin_key)
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    expect(page.get_by_role("link", name="API docs")).to_have_attribute("href", "/docs")


def test_an_invalid_hyperparameter_shows_the_apis_message_next_to_its_field(page: Page, platform: Platform,
                                                                            dataset_id: str) -> None:
    sign_in(page, platform.url, platform.key)
    page.get_by_role("button", name="New run").click()
    expect(page.get_by_label("Dataset")).to_have_value(dataset_id)
    page.get_by_label("Learning rate", exact=True).fill("2")
    page.get_by_label("Steps", exact=True).fill("many")
    page.get_by_role("button", name="Start the run").click()
    for field, loc in (("Learning rate", "hyperparameters.learning_rate"), ("Steps", "hyperparameters.steps")):
        message = page.locator(f'.field-error[data-field="{loc}"]')
        expect(message).to_be_visible()
        # next to its field: in the same cell as the input that the label names
        expect(page.get_by_label(field, exact=True).locator("xpath=..").locator(".field-error")).to_have_text(
            message.inner_text())
    expect(page.locator('[data-field="hyperparameters.learning_rate"]')).to_contain_text("1")
    screenshot(page, "new-run-invalid", documented=False)
    assert platform.http().get("/v1/jobs").json()["items"] == [], "an invalid run was created"


def test_a_running_jobs_loss_curve_gains_points_while_it_trains(page: Page, platform: Platform,
                                                                training: dict[str, Any]) -> None:
    sign_in(page, platform.url, platform.key)
    row = page.locator(f'tr[data-job-id="{training["id"]}"]')
    expect(row).to_contain_text("running")
    expect(row).to_contain_text("sana-tiny")
    expect(row).to_contain_text(training["pool"])
    row.get_by_role("link", name="watched").click()
    expect(page).to_have_url(re.compile(f"#/runs/{training['id']}$"))

    counts = []
    for _ in range(3):  # the chart's data grows twice, without a reload
        wait_until(lambda: chart_points(page, "loss") > (counts[-1] if counts else 0),
                   what="the loss chart to gain points", timeout_s=90, every_s=0.3)
        counts.append(chart_points(page, "loss"))
    assert counts == sorted(set(counts)), counts
    for title in ("learning rate", "grad norm", "samples/s"):
        assert chart_points(page, title) > 0, title
    expect(page.locator(".steps")).to_contain_text(re.compile(r"step \d+ of 400"))
    expect(page.locator(".eta")).to_contain_text("left")
    log = page.get_by_role("log")
    expect(log).to_contain_text("step=")
    assert log.evaluate("el => el.scrollHeight > el.clientHeight"), "the event log does not scroll yet"
    for scrolled_to, where in (("0", "el => el.scrollTop === 0"),  # reading back: new events do not pull it down
                               ("el.scrollHeight", "el => el.scrollHeight - el.scrollTop - el.clientHeight < 8")):
        log.evaluate(f"el => {{ el.scrollTop = {scrolled_to}; el.dispatchEvent(new Event('scroll')); }}")
        wait_for_more(log.locator(".event"))
        assert log.evaluate(where), f"after new events, the log is not where it was: {where}"
    expect(page.locator(".hyperparameters")).to_contain_text("checkpoint_interval")
    page.get_by_label("log scale").check()
    page.get_by_label("clip outliers").check()
    page.locator('input[name="smoothing"]').fill("0.9")
    wait_until(lambda: chart_points(page, "loss") > counts[-1], what="the log-scale chart to keep growing",
               timeout_s=90, every_s=0.3)
    screenshot(page, "run-page")


def test_the_checkpoint_grid_compares_two_steps_side_by_side(page: Page, platform: Platform,
                                                             training: dict[str, Any]) -> None:
    http = platform.http()
    wait_until(lambda: len(http.get(f"/v1/jobs/{training['id']}/checkpoints").json()) >= 2,
               what="two checkpoints", timeout_s=240, every_s=0.5)
    steps = [c["step"] for c in http.get(f"/v1/jobs/{training['id']}/checkpoints").json()]
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/runs/{training['id']}")
    grid = page.get_by_role("table", name="checkpoint samples")
    for prompt in PROMPTS:
        expect(grid.get_by_role("columnheader", name=prompt)).to_be_visible()
    first, second = steps[0], steps[1]
    for step in (first, second):
        for prompt in PROMPTS:
            image = grid.get_by_role("img", name=f"step {step}: {prompt}")
            expect(image).to_be_visible()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                   timeout=ms(30))

    page.get_by_role("button", name="Compare two steps").click()
    compare = page.get_by_role("region", name="compare")
    compare.get_by_label("Left").select_option(str(first))
    compare.get_by_label("Right").select_option(str(second))
    for prompt in PROMPTS:
        expect(compare.get_by_role("img", name=f"step {first}: {prompt}")).to_be_visible()
        expect(compare.get_by_role("img", name=f"step {second}: {prompt}")).to_be_visible()
    expect(compare.get_by_role("img")).to_have_count(2 * len(PROMPTS))
    compare.scroll_into_view_if_needed()
    screenshot(page, "checkpoint-compare")


def test_promoting_a_checkpoint_and_downloading_its_weights(page: Page, platform: Platform,
                                                            training: dict[str, Any]) -> None:
    http = platform.http()
    step = http.get(f"/v1/jobs/{training['id']}/checkpoints").json()[0]["step"]
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/runs/{training['id']}")
    row = page.locator(f'table[aria-label="checkpoint samples"] tr[data-step="{step}"]')
    row.get_by_role("button", name="Promote").click()
    form = page.get_by_role("form", name=f"promote step {step}")
    form.get_by_label("Model name").fill("   ")
    form.get_by_role("button", name=f"Promote step {step}").click()
    expect(form.locator('.field-error[data-field="name"]')).to_be_visible()
    form.get_by_label("Model name").fill("squares-lora")
    form.get_by_role("button", name=f"Promote step {step}").click()
    expect(row.get_by_role("status")).to_contain_text("squares-lora")
    models = http.get("/v1/models").json()["items"]
    assert [(m["name"], m["source_step"]) for m in models] == [("squares-lora", step)], models

    row.get_by_role("button", name="Download weights").click()
    link = row.get_by_role("link", name=re.compile(r"\.safetensors$"))
    expect(link).to_be_visible()
    weights = httpx.get(str(link.get_attribute("href")), timeout=scaled(30))
    assert weights.status_code == 200 and len(weights.content) > 1000


def test_a_queued_run_says_why_it_waits_and_can_be_cancelled(page: Page, platform: Platform, dataset_id: str,
                                                             training: dict[str, Any]) -> None:
    http = platform.http()
    assert http.get(f"/v1/jobs/{training['id']}").json()["status"] == "running", "the GPU is no longer taken"
    body = {"type": "lora", "name": "waiting", "dataset_id": dataset_id, "base_model": "sana-tiny",
            "hyperparameters": {"steps": 2}}
    job_id = http.post("/v1/jobs", json=body).json()["id"]
    reason = wait_for_job(http, job_id, lambda job: bool(job["wait_reason"]), "to say why it waits")["wait_reason"]

    sign_in(page, platform.url, platform.key)
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("queued")  # it appeared without a reload: the list polls
    screenshot(page, "runs-list")
    page.get_by_label("Status").select_option("queued")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search").fill("watch")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{training["id"]}"]')).to_be_visible()
    page.get_by_label("Search").fill(job_id)
    expect(page.locator("tbody tr")).to_have_count(1)

    row.get_by_role("link", name="waiting").click()
    expect(page.get_by_role("status").filter(has_text="Waiting")).to_have_text(f"Waiting: {reason}")
    screenshot(page, "run-queued")
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.locator(".title-row .pill")).to_have_text("cancelled", timeout=ms(30))
    assert http.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_another_tenant_sees_none_of_it_even_by_editing_the_url(page: Page, platform: Platform, dataset_id: str,
                                                                training: dict[str, Any]) -> None:
    http = platform.http()
    endpoint = http.post("/v1/endpoints", json={"name": "squares-endpoint", "model": "sana-tiny"})
    assert endpoint.status_code == 201, endpoint.text
    checkpoints = http.get(f"/v1/jobs/{training['id']}/checkpoints").json()
    files = http.get(f"/v1/datasets/{dataset_id}/files").json()["items"]
    images = [url.split("?")[0] for c in checkpoints for url in c["sample_urls"]] + [f["url"].split("?")[0]
                                                                                     for f in files]
    assert images, "the tenant has no images to hide"
    owned = {"runs": training["id"], "datasets": dataset_id, "endpoints": endpoint.json()["id"]}
    secrets = [*owned.values(), "watched", "squares", *images]
    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response) if "/v1/" in response.url else None)
    sign_in(page, platform.url, platform.new_tenant("tenant-b"))

    def shows_none_of_it() -> None:
        dom = page.content()
        shown = [secret for secret in secrets if secret in dom]
        assert not shown, f"{page.url} shows the other tenant's {shown}"

    for section, id_ in owned.items():
        page.goto(f"{platform.url}/dashboard/#/{section}")
        page.wait_for_load_state("networkidle")
        shows_none_of_it()
        answers.clear()
        page.goto(f"{platform.url}/dashboard/#/{section}/{id_}")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        asked = [answer for answer in answers if id_ in answer.url]
        assert asked and all(a.status == 404 for a in asked), [(a.url, a.status) for a in asked]
        shows_none_of_it()
    page.goto(f"{platform.url}/dashboard/#/runs")
    expect(page.get_by_text("No runs.")).to_be_visible()

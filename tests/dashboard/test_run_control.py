"""Controlling runs from their page, in headless chromium against a real `sanacloud up` (one GPU): a queued run
paused and resumed, a succeeded run extended to more steps (and a refused extension showing the API's message),
a new run trained on from a checkpoint, and a running run paused, which waits for its trainer's checkpoint.
Another tenant can neither see nor control any of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.helpers.dashboard import Platform, ms, screenshot, sign_in
from tests.helpers.flow import ENDED, wait_for_job, wait_for_status
from tests.helpers.images import captioned_zip

pytestmark = pytest.mark.slow
QUICK = {"steps": 4, "checkpoint_interval": 2, "batch_size": 1, "resolution": 64, "validation_prompts": ["a square"]}
# Holds the one GPU for the whole module, so that every other run waits in the queue.
HOLDING = {"steps": 100_000, "checkpoint_interval": 100_000, "batch_size": 1, "resolution": 64,
           "validation_prompts": ["a square"]}


@pytest.fixture(scope="module")
def http(platform: Platform) -> Iterator[httpx.Client]:
    with platform.http() as client:
        yield client


def new_dataset(http: httpx.Client, name: str) -> str:
    dataset = http.post("/v1/datasets", json={"name": name}).json()["id"]
    upload = http.post(f"/v1/datasets/{dataset}/files", files=[("files", ("set.zip", captioned_zip(4)))])
    assert upload.status_code == 201, upload.text
    return str(dataset)


def submit(http: httpx.Client, dataset_id: str, name: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    job = http.post("/v1/jobs", json={"type": "lora", "name": name, "dataset_id": dataset_id,
                                      "base_model": "sana-tiny", "hyperparameters": hyperparameters})
    assert job.status_code == 201, job.text
    return dict(job.json())


@pytest.fixture(scope="module")
def dataset_id(http: httpx.Client) -> str:
    return new_dataset(http, "squares")


@pytest.fixture(scope="module")
def finished(http: httpx.Client, dataset_id: str) -> dict[str, Any]:
    """A short run trained to success while the GPU is free."""
    return wait_for_status(http, submit(http, dataset_id, "short", QUICK)["id"], "succeeded", timeout_s=300)


@pytest.fixture(scope="module")
def holding(http: httpx.Client, dataset_id: str, finished: dict[str, Any]) -> Iterator[dict[str, Any]]:
    job = submit(http, dataset_id, "holding", HOLDING)
    yield wait_for_status(http, job["id"], "running")
    for left in http.get("/v1/jobs").json()["items"]:  # so that the platform stops at once
        if left["status"] not in ENDED:
            http.post(f"/v1/jobs/{left['id']}/cancel")


def open_run(page: Page, platform: Platform, job_id: str) -> None:
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/runs/{job_id}")


def pill(page: Page) -> Locator:
    return page.locator(".title-row .pill")


def test_a_queued_run_is_paused_and_resumed_from_its_page(page: Page, platform: Platform, http: httpx.Client,
                                                          dataset_id: str, holding: dict[str, Any]) -> None:
    job = submit(http, dataset_id, "queued", {"steps": 2})
    assert job["status"] == "queued", job
    open_run(page, platform, job["id"])
    page.get_by_role("button", name="Pause").click()
    expect(pill(page)).to_have_text("paused")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Paused before its first step"))
    assert http.get(f"/v1/jobs/{job['id']}").json()["status"] == "paused"
    screenshot(page, "run-paused", documented=False)

    page.goto(f"{platform.url}/dashboard/#/runs")
    page.get_by_label("Status").select_option("paused")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{job["id"]}"]')).to_contain_text("paused")

    page.get_by_role("link", name="queued").click()
    page.get_by_role("button", name="Resume").click()
    expect(pill(page)).to_have_text("queued")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert http.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"
    http.post(f"/v1/jobs/{job['id']}/cancel")


def test_a_refused_extension_shows_the_apis_message(page: Page, platform: Platform, http: httpx.Client,
                                                    finished: dict[str, Any]) -> None:
    steps = http.get(f"/v1/jobs/{finished['id']}").json()["hyperparameters"]["steps"]
    refused = http.patch(f"/v1/jobs/{finished['id']}", json={"steps": steps})
    assert refused.status_code == 422, refused.text
    open_run(page, platform, finished["id"])
    page.get_by_role("button", name="Extend").click()
    form = page.get_by_role("form", name="extend")
    form.get_by_label("New total steps").fill(str(steps))
    form.get_by_role("button", name=f"Extend to {steps} steps").click()
    expect(form.get_by_role("alert")).to_have_text(refused.json()["detail"])
    expect(pill(page)).to_have_text("succeeded")
    assert http.get(f"/v1/jobs/{finished['id']}").json()["hyperparameters"]["steps"] == steps


def test_a_succeeded_run_is_extended_and_goes_back_to_the_queue(page: Page, platform: Platform, http: httpx.Client,
                                                                finished: dict[str, Any],
                                                                holding: dict[str, Any]) -> None:
    total = finished["hyperparameters"]["steps"]
    open_run(page, platform, finished["id"])
    expect(pill(page)).to_have_text("succeeded")
    page.get_by_role("button", name="Extend").click()
    field = page.get_by_label("New total steps")
    expect(field).to_be_focused()
    expect(field).to_have_value(str(total + total // 2))  # prefilled: half as many steps again
    field.fill(str(total * 2))
    page.get_by_role("button", name=f"Extend to {total * 2} steps").click()
    expect(pill(page)).to_have_text("queued")  # the holding run keeps the GPU
    expect(page.locator(".steps")).to_have_text(f"step {total} of {total * 2}")
    expect(page.get_by_role("form", name="extend")).to_have_count(0)
    job = http.get(f"/v1/jobs/{finished['id']}").json()
    assert (job["status"], job["hyperparameters"]["steps"]) == ("queued", total * 2), job


def test_train_on_from_a_checkpoint_starts_a_new_run_from_its_weights(page: Page, platform: Platform,
                                                                      http: httpx.Client, finished: dict[str, Any],
                                                                      holding: dict[str, Any]) -> None:
    other_dataset = new_dataset(http, "circles")
    checkpoint = http.get(f"/v1/jobs/{finished['id']}/checkpoints").json()[-1]
    open_run(page, platform, finished["id"])
    page.get_by_role("button", name=f"Train on from here (step {checkpoint['step']})").click()
    form = page.get_by_role("form", name="new run")
    expect(form.get_by_role("heading")).to_have_text(f"Train on from step {checkpoint['step']} of short")
    expect(form.get_by_label("Name", exact=True)).to_be_focused()
    expect(form.get_by_label("Base model")).to_have_value("sana-tiny")
    expect(form.get_by_label("Type", exact=True)).to_have_value("lora")
    expect(form.get_by_label("LoRA rank")).to_have_count(0)  # the checkpoint's is kept
    form.get_by_label("Dataset").select_option(other_dataset)
    form.get_by_label("Steps", exact=True).fill("3")
    form.get_by_label("Name", exact=True).fill("continued")
    screenshot(page, "train-on-from-checkpoint", documented=False)
    form.get_by_role("button", name="Start the run").click()

    expect(page.get_by_role("heading", name="continued")).to_be_visible()
    job_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator(".origin")).to_have_text(
        f"Started from checkpoint {checkpoint['id']} (step {checkpoint['step']} of short)")
    page.locator(".origin").get_by_role("link", name="short").click()
    expect(page.get_by_role("heading", name="short")).to_be_visible()
    job = http.get(f"/v1/jobs/{job_id}").json()
    assert (job["from_checkpoint_id"], job["dataset_id"], job["type"], job["base_model"],
            job["hyperparameters"]["steps"]) == (checkpoint["id"], other_dataset, "lora", "sana-tiny", 3), job
    assert job["hyperparameters"]["lora"]["rank"] == finished["hyperparameters"]["lora"]["rank"]


def test_another_tenant_can_neither_see_nor_control_these_runs(page: Page, platform: Platform, http: httpx.Client,
                                                              finished: dict[str, Any]) -> None:
    continued = [j for j in http.get("/v1/jobs").json()["items"] if j["from_checkpoint_id"]]
    assert continued, "no run was trained on from a checkpoint"
    key = platform.new_tenant("tenant-b")
    sign_in(page, platform.url, key)
    for job_id in (continued[0]["id"], finished["id"]):
        page.goto(f"{platform.url}/dashboard/#/runs/{job_id}")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    with platform.http(key) as other:
        for answer in (other.post(f"/v1/jobs/{finished['id']}/pause"), other.post(f"/v1/jobs/{finished['id']}/resume"),
                       other.patch(f"/v1/jobs/{finished['id']}", json={"steps": 1000})):
            assert answer.status_code == 404, answer.text
    assert http.get(f"/v1/jobs/{finished['id']}").json()["hyperparameters"]["steps"] != 1000


def test_a_running_run_pauses_once_its_trainer_has_checkpointed(page: Page, platform: Platform, http: httpx.Client,
                                                               holding: dict[str, Any]) -> None:
    open_run(page, platform, holding["id"])
    expect(pill(page)).to_have_text("running")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_have_text("Pausing…, the trainer is writing a checkpoint.")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()  # it would withdraw the pause
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)

    paused = wait_for_status(http, holding["id"], "paused", timeout_s=120)
    expect(pill(page)).to_have_text("paused", timeout=ms(20))
    expect(page.get_by_role("status")).to_have_text(
        f"Paused at step {paused['step']}; resume continues from its checkpoint.")
    page.get_by_role("button", name="Resume").click()
    expect(pill(page)).to_have_text(re.compile(r"^(queued|admitted|running)$"))
    wait_for_job(http, holding["id"], lambda job: job["status"] != "paused", "to be resumed")

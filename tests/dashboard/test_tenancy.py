"""Signed in as tenant B, the dashboard shows none of tenant A's runs, datasets, images or endpoints, not
even when B edits the page's URL to A's ids: the API answers B 404 for each, and the page says not found."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

from tests.helpers.dashboard import Platform, sign_in
from tests.helpers.flow import wait_for_status
from tests.helpers.images import captioned_zip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tenant_a(platform: Platform) -> dict[str, Any]:
    """A's dataset, trained run (with a checkpoint's samples) and endpoint: every name and id and image URL."""
    with platform.http() as http:
        dataset = http.post("/v1/datasets", json={"name": "a-secret-squares"}).json()
        assert http.post(f"/v1/datasets/{dataset['id']}/files",
                         files=[("files", ("set.zip", captioned_zip(2)))]).status_code == 201
        body = {"type": "lora", "name": "a-secret-run", "dataset_id": dataset["id"], "base_model": "sana-tiny",
                "hyperparameters": {"steps": 2, "checkpoint_interval": 1, "batch_size": 1, "resolution": 64,
                                    "validation_prompts": ["a-secret prompt"]}}
        job = wait_for_status(http, http.post("/v1/jobs", json=body).json()["id"], "succeeded")
        checkpoints = http.get(f"/v1/jobs/{job['id']}/checkpoints").json()
        endpoint = http.post("/v1/endpoints", json={"name": "a-secret-endpoint", "model": "sana-tiny"})
        assert endpoint.status_code == 201, endpoint.text
        files = http.get(f"/v1/datasets/{dataset['id']}/files").json()["items"]
    return {"job": job["id"], "dataset": dataset["id"], "endpoint": endpoint.json()["id"],
            "images": [url for c in checkpoints for url in c["sample_urls"]] + [f["url"] for f in files]}


def test_tenant_b_sees_none_of_tenant_as_data_even_by_editing_the_url(page: Page, platform: Platform,
                                                                     tenant_a: dict[str, Any]) -> None:
    assert tenant_a["images"], "tenant A has no images to hide"
    b_key = platform.new_tenant("tenant-b")
    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response) if "/v1/" in response.url else None)
    sign_in(page, platform.url, b_key)

    def shows_nothing_of_a() -> None:
        dom = page.content()
        for secret in ("a-secret", tenant_a["job"], tenant_a["dataset"], tenant_a["endpoint"]):
            assert secret not in dom, f"{secret} shows on {page.url}"
        for image in tenant_a["images"]:
            assert image.split("?")[0] not in dom, f"A's image {image} shows on {page.url}"

    for listing, empty in (("runs", "No runs."), ("datasets", None), ("endpoints", None)):
        page.goto(f"{platform.url}/dashboard/#/{listing}")
        page.wait_for_load_state("networkidle")
        if empty:
            expect(page.get_by_text(empty)).to_be_visible()
        shows_nothing_of_a()

    for section, id_ in (("runs", tenant_a["job"]), ("datasets", tenant_a["dataset"]),
                         ("endpoints", tenant_a["endpoint"])):
        answers.clear()
        page.goto(f"{platform.url}/dashboard/#/{section}/{id_}")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        asked = [a for a in answers if id_ in a.url]
        assert asked and all(a.status == 404 for a in asked), [(a.url, a.status) for a in asked]
        shows_nothing_of_a()

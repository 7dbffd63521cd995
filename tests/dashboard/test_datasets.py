"""The datasets pages in a browser: create a dataset (a bad name is refused next to its field), upload a folder
with one corrupt image (refused whole, with the file's reason; then stored without it, a progress bar showing
while it goes), see the thumbnails with their captions; photos without captions captioned automatically;
another tenant sees none of it, not even by the URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from sanacloud.model.tiny.shapes import ALL_COLORS, BASE_SHAPES, write_dataset
from tests.helpers.dashboard import Platform, ms, screenshot, sign_in
from tests.helpers.images import png

CORRUPT_REASON = "not an image: cannot identify image file"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two captioned squares and a file that only claims to be a PNG."""
    where = tmp_path_factory.mktemp("upload") / "shapes"
    where.mkdir()
    for name, color in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        (where / f"{name}.png").write_bytes(png(48, 32, color))
        (where / f"{name}.txt").write_text(f"a {name} rectangle")
    (where / "broken.png").write_bytes(b"this is not an image")
    return where


def new_dataset(page: Page, name: str) -> str:
    """Creates a dataset through the form; its id, from the page it opens."""
    page.goto(page.url.split("#")[0] + "#/datasets")
    page.get_by_role("button", name="New dataset").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create the dataset").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def test_a_bad_name_is_refused_next_to_its_field(platform: Platform, page: Page) -> None:
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/datasets")
    page.get_by_role("button", name="New dataset").click()
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Create the dataset").click()
    field = page.get_by_role("form", name="new dataset")
    expect(field.locator('.field-error[data-field="name"]')).to_contain_text("at least 1 character")


def test_a_folder_with_a_corrupt_image_is_refused_then_stored_without_it(platform: Platform, page: Page,
                                                                         folder: Path) -> None:
    sign_in(page, platform.url, platform.key)
    dataset_id = new_dataset(page, "shapes")
    upload = page.get_by_role("form", name="upload images")
    upload.get_by_label("A folder").set_input_files(folder)
    expect(upload.get_by_text("5 file(s)")).to_be_visible()
    upload.get_by_role("button", name="Upload").click()
    problem = upload.locator('.problem[data-field="files"]')
    expect(problem).to_contain_text("nothing was stored")
    expect(upload.locator('[data-rejected="broken.png"]')).to_contain_text(CORRUPT_REASON)
    screenshot(page, "dataset-upload-refused", documented=False)

    upload.get_by_label("If an image is invalid").select_option("skip")
    held: list[Route] = []  # the upload, held until its progress bar has been seen
    page.route(re.compile(r".*/v1/datasets/[^/]+/files\?on_invalid=skip$"), lambda route: held.append(route))
    upload.get_by_role("button", name="Upload").click()
    expect(upload.get_by_role("progressbar", name="upload progress")).to_be_visible()
    expect(upload.get_by_role("button", name="Upload")).to_be_disabled()
    held[0].continue_()
    expect(upload.get_by_role("status")).to_contain_text("Stored 2 image(s)")
    expect(upload.get_by_role("progressbar")).to_have_count(0)
    expect(upload.locator('[data-rejected="broken.png"]')).to_contain_text(CORRUPT_REASON)
    report = page.get_by_role("region", name="validation report")
    expect(report.locator('[data-rejected="broken.png"]')).to_contain_text(CORRUPT_REASON)
    expect(page.locator(".dataset-stats")).to_contain_text("2 images")

    thumbnails = page.locator(".thumbnails figure")
    expect(thumbnails).to_have_count(2)
    expect(page.locator('figure[data-file="red.png"] figcaption')).to_contain_text("a red rectangle")
    for image in page.locator(".thumbnails img").all():  # the presigned URL loaded: the image decoded
        expect(image).to_have_js_property("complete", True, timeout=ms(10))
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [48, 32]
    screenshot(page, "dataset")
    assert dataset_id.startswith("ds_")


def test_another_tenant_sees_none_of_its_datasets_even_by_url(platform: Platform, page: Page) -> None:
    with platform.http() as owner:
        mine = owner.post("/v1/datasets", json={"name": "private-set"}).json()["id"]
    sign_in(page, platform.url, platform.new_tenant("outsider-datasets"))
    page.goto(f"{platform.url}/dashboard/#/datasets")
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    page.goto(f"{platform.url}/dashboard/#/datasets/{mine}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("private-set")).to_have_count(0)


def test_photos_without_captions_are_captioned_automatically(platform: Platform, page: Page,
                                                              tmp_path: Path) -> None:
    write_dataset(tmp_path, 2, 128, 5, ALL_COLORS, BASE_SHAPES)
    truth = {row["file_name"]: row["text"] for row in map(json.loads, (tmp_path / "metadata.jsonl")
                                                          .read_text().splitlines())}
    (tmp_path / "metadata.jsonl").unlink()  # photos, as people bring them
    sign_in(page, platform.url, platform.key)
    new_dataset(page, "scenes")
    upload = page.get_by_role("form", name="upload images")
    upload.get_by_label("A folder").set_input_files(tmp_path)
    upload.get_by_role("button", name="Upload").click()
    expect(upload.get_by_role("status")).to_contain_text("Stored 2 image(s)")

    captioning = page.get_by_role("region", name="auto-captioning")
    captioning.get_by_role("button", name="Caption automatically").click()
    expect(captioning.get_by_role("status")).to_contain_text("succeeded", timeout=ms(120))
    for name, text in truth.items():
        written = page.locator(f'figure[data-file="{name}"] li[data-source="sana-tiny-captioner"]')
        expect(written).to_contain_text(text)
        expect(written).to_contain_text("· 100")
    expect(page.locator(".dataset-stats")).to_contain_text("2 auto-captioned")
    screenshot(page, "dataset-auto-captions", documented=False)
    captioning.get_by_role("link").click()  # the job's own page: images done of all, its events
    expect(page.locator(".progress-line")).to_contain_text("image 2 of 2")
    expect(page.locator(".event-progress").first).to_be_visible()

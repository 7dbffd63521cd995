"""The endpoints pages in a browser: create an endpoint on sana-tiny (a bad idle timeout is refused next to its
field), generate in the playground and see the image at the size asked for with its timings; a bad setting
is refused next to its field; another tenant sees neither the endpoint nor its playground, even by the URL."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sanacloud.platform.bootstrap import EMBEDDED_TENANT
from sanacloud.platform.db.models import Model, Tenant
from tests.helpers.dashboard import Platform, ms, screenshot, sign_in

pytestmark = pytest.mark.slow
RESOLUTION = 64


@pytest.fixture(scope="module")
def endpoint_id(platform: Platform) -> str:
    """An endpoint on the base model, made through the API (the form's own test makes another)."""
    with platform.http() as owner:
        created = owner.post("/v1/endpoints", json={"name": "tiny", "model": "sana-tiny"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_an_endpoint_is_created_from_a_model_and_listed_with_its_status(platform: Platform, page: Page) -> None:
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/endpoints")
    page.get_by_role("button", name="New endpoint").click()
    form = page.get_by_role("form", name="new endpoint")
    form.get_by_label("Name").fill("from the form")
    form.get_by_label("Model").select_option(label="sana-tiny (base)")
    form.get_by_label("Idle timeout (s)").fill("0")
    form.get_by_role("button", name="Create the endpoint").click()
    expect(form.locator('.field-error[data-field="idle_timeout_s"]')).to_contain_text("greater than or equal to 1")
    form.get_by_label("Idle timeout (s)").fill("120")
    form.get_by_role("button", name="Create the endpoint").click()
    expect(page.get_by_role("heading", name="from the form")).to_be_visible()
    expect(page.locator(".pill")).to_have_text("cold")
    page.goto(f"{platform.url}/dashboard/#/endpoints")
    expect(page.locator("tr", has_text="from the form").locator(".pill")).to_have_text("cold")


def test_the_playground_shows_the_image_at_the_size_asked_and_its_timings(platform: Platform, page: Page,
                                                                         endpoint_id: str) -> None:
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/endpoints/{endpoint_id}")
    playground = page.get_by_role("form", name="playground")
    playground.get_by_label("Prompt", exact=True).fill("a red square")
    playground.get_by_label("Steps").fill("0")
    playground.get_by_role("button", name="Generate").click()
    expect(playground.locator('.field-error[data-field="steps"]')).to_contain_text("greater than or equal to 1")

    playground.get_by_label("Negative prompt").fill("blurry")
    playground.get_by_label("Seed").fill("7")
    playground.get_by_label("Steps").fill("2")
    playground.get_by_label("Resolution (px)").fill(str(RESOLUTION))
    playground.get_by_label("Sampler").select_option("euler")
    playground.get_by_role("button", name="Generate").click()
    generation = page.get_by_role("region", name="generation")
    expect(generation.locator(".pill")).to_have_text("succeeded", timeout=ms(180))
    image = generation.locator(".generated img")
    expect(image).to_have_count(1)
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [RESOLUTION, RESOLUTION]
    timings = generation.locator("table.timings")
    for name in ("queue", "denoise", "decode"):
        expect(timings.locator("th", has_text=name)).to_be_visible()
    expect(generation).to_contain_text("seed 7")
    expect(generation).to_contain_text("sampler euler")
    expect(page.locator(".title-row .pill").first).not_to_have_text("cold")  # the request loaded the model
    screenshot(page, "playground")


def test_another_tenant_sees_neither_the_endpoint_nor_its_playground(platform: Platform, page: Page,
                                                                    endpoint_id: str) -> None:
    sign_in(page, platform.url, platform.new_tenant("outsider-endpoints"))
    page.goto(f"{platform.url}/dashboard/#/endpoints")
    expect(page.get_by_text("No endpoints yet")).to_be_visible()
    page.goto(f"{platform.url}/dashboard/#/endpoints/{endpoint_id}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("form", name="playground")).to_have_count(0)


def test_a_fine_tunes_trigger_word_is_shown_and_starts_the_playgrounds_prompt(platform: Platform, page: Page) -> None:
    """A model promoted from a job with a trigger word (recorded here straight in the platform's database:
    the promotion's own test is tests/api/test_instance_prompt.py)."""
    engine = create_engine(f"sqlite:///{platform.data_dir / 'sanacloud.db'}")
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant.id).where(Tenant.name == EMBEDDED_TENANT)).one()
        base = session.scalars(select(Model).where(Model.name == "sana-tiny", Model.tenant_id.is_(None))).one()
        model = Model(tenant_id=tenant, name="my dog", kind="lora", family=base.family, base_model_id=base.id,
                      uri="store://nowhere/", trigger="zqx", status="ready")
        session.add(model)
        session.flush()
        model_id = model.id
    engine.dispose()
    with platform.http() as owner:
        created = owner.post("/v1/endpoints", json={"name": "my dog", "model": model_id})
    assert created.status_code == 201, created.text
    sign_in(page, platform.url, platform.key)
    page.goto(f"{platform.url}/dashboard/#/endpoints/{created.json()['id']}")
    expect(page.locator(".trigger")).to_have_text("zqx")
    prompt = page.get_by_role("form", name="playground").get_by_label("Prompt", exact=True)
    expect(prompt).to_have_value("zqx, ")

"""The SDK against `sanacloud up` on SQLite, over real HTTP: a folder uploaded with progress, a LoRA
fine-tune of sana-tiny followed to success through its events, its checkpoint promoted and served,
and generated images downloaded and saved; and the same through `AsyncClient`."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sanacloud.client import AsyncClient, Client, JobEvent, NotFound, UploadProgress
from tests.helpers.deadlines import scaled
from tests.helpers.sdk import LiveAPI, embedded_platform, image_folder

pytestmark = pytest.mark.slow
PROMPT = "a red square"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAPI]:
    with embedded_platform(tmp_path_factory.mktemp("up")) as live:
        yield live


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(data)).size


@pytest.mark.timeout(600)
def test_a_folder_becomes_a_fine_tune_and_generated_images(platform: LiveAPI, tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "shapes")
    (folder / "broken.png").write_bytes(b"not an image")
    authorized: dict[str, bool] = {}  # URL -> whether the request carried the API key

    def sent(request: httpx.Request) -> None:
        authorized[str(request.url)] = "authorization" in request.headers

    with httpx.Client(event_hooks={"request": [sent]}) as http, \
            Client(platform.url, platform.api_key, timeout=scaled(60), http_client=http) as client:
        dataset = client.datasets.create("shapes", description="four squares")
        progress: list[UploadProgress] = []
        report = client.datasets.upload(dataset.id, folder, on_invalid="skip", progress=progress.append)
        assert (report.accepted, [r.name for r in report.rejected]) == (4, ["broken.png"]), report
        last = progress[-1]
        assert last.sent_bytes == last.total_bytes and last.files == last.total_files == 9
        assert [p.sent_bytes for p in progress] == sorted({p.sent_bytes for p in progress})
        assert sorted(f.name for f in client.datasets.files(dataset.id)) == [
            "000.png", "001.png", "002.png", "more/003.png"]

        tiny = next(b for b in client.base_models.list() if b.name == "sana-tiny")
        resolution = min(tiny.resolutions)
        job = client.jobs.create(dataset_id=dataset.id, base_model="sana-tiny", hyperparameters={
            "steps": 6, "checkpoint_interval": 3, "batch_size": 2, "resolution": resolution,
            "validation_prompts": [PROMPT]})
        seen: list[JobEvent] = []
        done = client.jobs.wait(job.id, on_event=seen.append, poll_interval=0.3, timeout=scaled(300))
        assert (done.status, done.step, done.error) == ("succeeded", 6, None), done
        assert [e.id for e in seen] == [e.id for e in client.jobs.events(job.id, limit=2)], "each event once, in order"
        assert [e.payload["step"] for e in seen if e.type == "step"] == list(range(1, 7))
        assert [e.payload["to"] for e in seen if e.type == "status"][-1] == "succeeded"

        checkpoints = client.jobs.checkpoints(job.id)
        assert [c.step for c in checkpoints] == [3, 6]
        model = client.checkpoints.promote(checkpoints[-1].id, name="shapes")
        endpoint = client.endpoints.create(name="shapes", model=model.id)
        generation = client.endpoints.generate(endpoint.id, PROMPT, seed=7, steps=2, resolution=resolution,
                                               num_images=2, timeout=scaled(300))
        assert generation.status == "succeeded", generation
        images = generation.images()
        assert [authorized[url] for url in generation.image_urls] == [False, False], "the key went to presigned URLs"
        assert [png_size(image) for image in images] == [(resolution, resolution)] * 2
        saved = generation.save(tmp_path / "out", prefix="shapes")
        assert [p.name for p in saved] == ["shapes-0.png", "shapes-1.png"]
        assert [p.read_bytes() for p in saved] == images


@pytest.mark.timeout(600)
def test_the_async_client_uploads_pages_raises_and_generates(platform: LiveAPI, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with AsyncClient(platform.url, platform.api_key, timeout=scaled(60)) as client:
            made = [await client.datasets.create(f"async-{i}") for i in range(3)]
            report = await client.datasets.upload(made[0].id, image_folder(tmp_path / "two", 2))
            assert report.accepted == 2 and report.dataset.file_count == 2, report
            page = await client.datasets.list(limit=1)
            assert len(page.items) == 1 and page.next_cursor is not None
            listed = [dataset.id async for dataset in page]
            assert [d.id for d in reversed(made)] == listed[:3]  # newest first, across pages
            assert len([p async for p in page.pages()]) == len(listed)

            with pytest.raises(NotFound) as missing:
                await client.datasets.retrieve("ds_does_not_exist")
            assert str(missing.value) == missing.value.problem["detail"] and "ds_does_not_exist" in str(missing.value)

            endpoint = await client.endpoints.create(name="base", model="sana-tiny")
            generation = await client.endpoints.generate(endpoint.id, PROMPT, seed=1, steps=2, resolution=64,
                                                         timeout=scaled(300))
            assert generation.status == "succeeded", generation
            assert [png_size(image) for image in await generation.aimages()] == [(64, 64)]

    asyncio.run(scenario())

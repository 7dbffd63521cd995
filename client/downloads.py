"""A finished generation's images: fetched from their presigned URLs (without the API key) and saved."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sanacloud.client._call import Flow, Send
from sanacloud.client._engine import Config
from sanacloud.client.errors import SanacloudError

if TYPE_CHECKING:
    from sanacloud.client._drivers import AsyncDriver, SyncDriver
    from sanacloud.client.models import Generation

# For a generation made outside a client: the URLs are whole and signed, nothing else is needed.
STANDALONE = Config(base_url="", api_key="", timeout=60.0, max_retries=3)


def image_flow(generation: Generation) -> Flow[list[bytes]]:
    if generation.status != "succeeded":
        raise SanacloudError(f"generation {generation.id} is {generation.status}, it has no images"
                         + (f": {generation.error}" if generation.error else ""))
    images = []
    for url in generation.image_urls:
        response = yield Send("GET", url, authorized=False)
        images.append(response.content)
    return images


def download_sync(generation: Generation, driver: SyncDriver | AsyncDriver | None) -> list[bytes]:
    from sanacloud.client._drivers import SyncDriver

    if isinstance(driver, SyncDriver):
        return driver.run(image_flow(generation))
    own = SyncDriver(driver.config if driver else STANDALONE, None)
    try:
        return own.run(image_flow(generation))
    finally:
        own.close()


async def download_async(generation: Generation, driver: SyncDriver | AsyncDriver | None) -> list[bytes]:
    from sanacloud.client._drivers import AsyncDriver

    if isinstance(driver, AsyncDriver):
        return await driver.run(image_flow(generation))
    own = AsyncDriver(driver.config if driver else STANDALONE, None)
    try:
        return await own.run(image_flow(generation))
    finally:
        await own.close()


def write_images(images: list[bytes], directory: str | Path, prefix: str) -> list[Path]:
    folder = Path(directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, data in enumerate(images):
        path = folder / f"{prefix}-{index}.png"
        path.write_bytes(data)
        paths.append(path)
    return paths

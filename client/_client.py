"""`Client` and `AsyncClient`: one tree of resources over a sync or an async driver."""

from __future__ import annotations

import os
from types import TracebackType

import httpx

from sanacloud.client._call import Call, parse_as
from sanacloud.client._drivers import AsyncDriver, SyncDriver
from sanacloud.client._engine import Config
from sanacloud.client._resource import D, Resource, operation
from sanacloud.client.errors import ConfigurationError
from sanacloud.client.models import Alive, Ready
from sanacloud.client.resources.account import Keys, Members, UsageResource
from sanacloud.client.resources.admin import Admin
from sanacloud.client.resources.datasets import Datasets
from sanacloud.client.resources.endpoints import Endpoints, Generations
from sanacloud.client.resources.jobs import Jobs
from sanacloud.client.resources.models import BaseModels, Captioners, Checkpoints, Models
from sanacloud.client.resources.webhooks import Webhooks

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_VARIABLE, API_KEY_VARIABLE = "SANACLOUD_BASE_URL", "SANACLOUD_API_KEY"


def resolve_config(base_url: str | None, api_key: str | None, timeout: float, max_retries: int) -> Config:
    """The client's settings: each argument, else its environment variable, else the default."""
    url = (base_url or os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"the base URL must start with http:// or https://, not {url!r}")
    key = api_key or os.environ.get(API_KEY_VARIABLE)
    if not key:
        raise ConfigurationError(f"no API key: pass api_key=... or set {API_KEY_VARIABLE} (`sanacloud up` prints "
                                 "one; a tenant admin makes more with POST /v1/keys)")
    if timeout <= 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if max_retries < 0:
        raise ConfigurationError(f"max_retries must be 0 or more, not {max_retries!r}")
    return Config(base_url=url, api_key=key, timeout=timeout, max_retries=max_retries)


class Root(Resource[D]):
    def __init__(self, driver: D) -> None:
        super().__init__(driver)
        self.datasets = Datasets(driver)
        self.jobs = Jobs(driver)
        self.checkpoints = Checkpoints(driver)
        self.models = Models(driver)
        self.base_models = BaseModels(driver)
        self.captioners = Captioners(driver)
        self.endpoints = Endpoints(driver)
        self.generations = Generations(driver)
        self.usage = UsageResource(driver)
        self.members = Members(driver)
        self.keys = Keys(driver)
        self.webhooks = Webhooks(driver)
        self.admin = Admin(driver)

    @property
    def base_url(self) -> str:
        return self._driver.config.base_url

    @operation("health-liveness")
    def health(self) -> Call[Alive]:
        """The API process is alive (`/healthz`)."""
        return Call("health-liveness", parse_as(Alive))

    @operation("health-readiness")
    def ready(self) -> Call[Ready]:
        """The API can serve: its database and broker answer (`/readyz`); ServiceUnavailable says what does not."""
        return Call("health-readiness", parse_as(Ready))


class Client(Root[SyncDriver]):
    """The sanacloud API. `base_url` defaults to $SANACLOUD_BASE_URL, else http://127.0.0.1:8000;
    `api_key` to $SANACLOUD_API_KEY. `http_client` (optional) is used as given and not closed here."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, http_client: httpx.Client | None = None) -> None:
        super().__init__(SyncDriver(resolve_config(base_url, api_key, timeout, max_retries), http_client))

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class AsyncClient(Root[AsyncDriver]):
    """`Client` for asyncio: every method is a coroutine; pages iterate with `async for`."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, http_client: httpx.AsyncClient | None = None) -> None:
        super().__init__(AsyncDriver(resolve_config(base_url, api_key, timeout, max_retries), http_client))

    async def aclose(self) -> None:
        await self._driver.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

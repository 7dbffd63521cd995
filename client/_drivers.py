"""The two drivers: they send the requests and take the pauses that `_engine.interpret` asks for,
one with httpx.Client and time.sleep, the other with httpx.AsyncClient and asyncio.sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

import httpx

from sanacloud.client import __version__
from sanacloud.client._call import Call, Flow, Send, Sleep
from sanacloud.client._engine import Config, interpret
from sanacloud.client.pagination import AsyncPage, Cursor, Page, PageCall

T = TypeVar("T")
USER_AGENT = f"sanacloud-python/{__version__}"


def request_headers(send: Send, config: Config) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, **send.headers}
    if send.authorized:
        headers["Authorization"] = f"Bearer {config.api_key}"
        headers.setdefault("Accept", "application/json")
    if send.body is not None:
        headers.update({"Content-Type": send.body.content_type, "Content-Length": str(send.body.length)})
    return headers


def timeout(send: Send, config: Config) -> httpx.Timeout:
    return httpx.Timeout(config.timeout, read=send.read_timeout or config.timeout)


class SyncDriver:
    def __init__(self, config: Config, http: httpx.Client | None) -> None:
        self.config = config
        self.http = http if http is not None else httpx.Client()
        self.owns_http = http is None

    def run(self, work: Call[T] | Flow[T]) -> T:
        steps = interpret(work, self.config)
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            try:
                value = self.http.send(self._request(step))
            except httpx.TransportError as failed:
                error = failed

    def page(self, call: PageCall[T]) -> Page[T]:
        def fetch(cursor: Cursor) -> Page[T]:
            return Page(self.run(call.following(cursor)), fetch)

        return Page(self.run(call.first), fetch)

    def close(self) -> None:
        if self.owns_http:
            self.http.close()

    def _request(self, send: Send) -> httpx.Request:
        return self.http.build_request(send.method, send.url, params=send.params, json=send.json,
                                       headers=request_headers(send, self.config),
                                       content=send.body.chunks if send.body else None,
                                       timeout=timeout(send, self.config))


class AsyncDriver:
    def __init__(self, config: Config, http: httpx.AsyncClient | None) -> None:
        self.config = config
        self.http = http if http is not None else httpx.AsyncClient()
        self.owns_http = http is None

    async def run(self, work: Call[T] | Flow[T]) -> T:
        steps = interpret(work, self.config)
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            try:
                value = await self.http.send(self._request(step))
            except httpx.TransportError as failed:
                error = failed

    async def page(self, call: PageCall[T]) -> AsyncPage[T]:
        async def fetch(cursor: Cursor) -> AsyncPage[T]:
            return AsyncPage(await self.run(call.following(cursor)), fetch)

        return AsyncPage(await self.run(call.first), fetch)

    async def close(self) -> None:
        if self.owns_http:
            await self.http.aclose()

    def _request(self, send: Send) -> httpx.Request:
        return self.http.build_request(send.method, send.url, params=send.params, json=send.json,
                                       headers=request_headers(send, self.config),
                                       content=_async_chunks(send.body.chunks) if send.body else None,
                                       timeout=timeout(send, self.config))


async def _async_chunks(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:  # read from local files: short blocking reads
        yield chunk

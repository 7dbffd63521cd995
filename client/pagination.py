"""Cursor pages that iterate themselves: `for item in page` goes on through the next pages, fetched
lazily; `page.pages()` goes page by page. `AsyncPage` is the same with `async for`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import httpx

from sanacloud.client._call import Call

T = TypeVar("T")
Cursor = str | int


@dataclass(frozen=True)
class RawPage(Generic[T]):
    items: list[T]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class PageCall(Generic[T]):
    """The call for a list's first page; the same call with `cursor_param` set gives each next one."""

    first: Call[RawPage[T]]
    cursor_param: str = "cursor"

    def following(self, cursor: Cursor) -> Call[RawPage[T]]:
        return replace(self.first, params={**(self.first.params or {}), self.cursor_param: cursor})


def parse_page(model: Callable[..., T]) -> Callable[[httpx.Response], RawPage[T]]:
    def parse(response: httpx.Response) -> RawPage[T]:
        body: dict[str, Any] = response.json()
        return RawPage([model(**item) for item in body["items"]], body.get("next_cursor"))

    return parse


class Page(Generic[T]):
    def __init__(self, raw: RawPage[T], fetch: Callable[[Cursor], Page[T]]) -> None:
        self.items = raw.items
        self.next_cursor = raw.next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    def next_page(self) -> Page[T] | None:
        return self._fetch(self.next_cursor) if self.next_cursor is not None else None

    def pages(self) -> Iterator[Page[T]]:
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def __repr__(self) -> str:
        return f"Page(items={self.items!r}, next_cursor={self.next_cursor!r})"


class AsyncPage(Generic[T]):
    def __init__(self, raw: RawPage[T], fetch: Callable[[Cursor], Awaitable[AsyncPage[T]]]) -> None:
        self.items = raw.items
        self.next_cursor = raw.next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    async def next_page(self) -> AsyncPage[T] | None:
        return await self._fetch(self.next_cursor) if self.next_cursor is not None else None

    async def pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(items={self.items!r}, next_cursor={self.next_cursor!r})"

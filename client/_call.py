"""Requests as data (sans-IO): resources describe what to send and how to read the answer; a sync or
an async driver does the sending. A `Flow` is a generator of steps (calls to make, pauses to take)
for what takes more than one request, such as waiting for a job."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from sanacloud.client._operations import OPERATIONS

T = TypeVar("T")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class Body:
    """A request body streamed from `chunks` (made anew for each attempt), of a known length."""

    chunks: Iterable[bytes]
    content_type: str
    length: int


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API operation to call: its id (which fixes method and path), the path's ids, and the rest."""

    operation_id: str
    parse: Callable[[httpx.Response], T]
    path: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Callable[[], Body] | None = None
    read_timeout: float | None = None  # for the answer to come; the client's timeout when None

    @property
    def method(self) -> str:
        return OPERATIONS[self.operation_id][0]

    @property
    def url_path(self) -> str:
        template = OPERATIONS[self.operation_id][1]
        return template.format(**{name: quote(str(value), safe="") for name, value in self.path.items()})

    @property
    def idempotent(self) -> bool:
        """Safe to send again after it may have reached the server."""
        return self.method in IDEMPOTENT_METHODS or "Idempotency-Key" in self.headers


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Send:
    """One HTTP request, ready for a driver to send; `authorized` is False for presigned URLs."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    body: Body | None = None
    authorized: bool = True
    read_timeout: float | None = None


Step = Call[Any] | Sleep | Send  # a Send: a URL outside the API (presigned), sent as it is
Flow = Generator[Step, Any, T]


def without_none(**fields: Any) -> dict[str, Any]:
    """A request body or query of the fields given: None means "not given", left out."""
    return {name: value for name, value in fields.items() if value is not None}


def parse_as(model: Callable[..., T]) -> Callable[[httpx.Response], T]:
    """Reads a JSON object response into `model` (a pydantic model class)."""
    def parse(response: httpx.Response) -> T:
        return model(**response.json())

    return parse


def parse_list(model: Callable[..., T]) -> Callable[[httpx.Response], list[T]]:
    def parse(response: httpx.Response) -> list[T]:
        return [model(**item) for item in response.json()]

    return parse


def parse_nothing(response: httpx.Response) -> None:
    return None

"""Runs calls and flows down to the two things a driver does: send a request, sleep.

Both drivers run `interpret(...)`, a generator that yields `Send` and `Sleep` and is sent back each
`Send`'s response (or has the transport error thrown into it), so that building requests, retrying,
reading answers and errors exist once, for sync and async alike.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from sanacloud.client._call import Call, Flow, Send, Sleep
from sanacloud.client._retry import retry_delay
from sanacloud.client.errors import (
    APIConnectionError,
    APITimeoutError,
    SanacloudError,
    UnreadableResponse,
    error_from_response,
)

T = TypeVar("T")
Primitive = Generator[Send | Sleep, Any, T]


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str
    timeout: float
    max_retries: int


def interpret(work: Call[T] | Flow[T], config: Config) -> Primitive[T]:
    """`work` (one call, or a flow of them) as primitive steps; its result is the generator's return value."""
    if isinstance(work, Call):
        return (yield from execute(work, config))
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = work.throw(error) if error is not None else work.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(step, Call):
                value = yield from execute(step, config)
            elif isinstance(step, Send):
                value = yield from send_with_retries(step, lambda response: response, config.max_retries,
                                                     idempotent=step.method == "GET")
            else:
                yield step
        except SanacloudError as failed:
            error = failed


def execute(call: Call[T], config: Config) -> Primitive[T]:
    def request() -> Send:
        return Send(call.method, config.base_url + call.url_path, params=call.params, json=call.json,
                    headers=dict(call.headers), body=call.body() if call.body else None, read_timeout=call.read_timeout)

    return send_with_retries(request, call.parse, config.max_retries, idempotent=call.idempotent)


def send_with_retries(request: Send | Callable[[], Send], parse: Callable[[httpx.Response], T], max_retries: int,
                      *, idempotent: bool) -> Primitive[T]:
    """Sends until a success (read by `parse`) or a failure not to retry (raised as the SDK's error)."""
    attempt = 0
    while True:
        response: httpx.Response | None = None
        failure: Exception | None = None
        try:
            response = yield (request if isinstance(request, Send) else request())
        except httpx.TransportError as failed:  # timeouts included
            failure = failed
        if response is not None and response.is_success:
            return _read(response, parse)
        delay = retry_delay(idempotent, response, failure, attempt, max_retries)
        if delay is None:
            raise _as_error(response, failure) from failure
        attempt += 1
        yield Sleep(delay)


def _read(response: httpx.Response, parse: Callable[[httpx.Response], T]) -> T:
    try:
        return parse(response)
    except (ValueError, KeyError, TypeError) as unreadable:  # not JSON, or not the shape of the SDK's model
        first_line = str(unreadable).splitlines()[0] if str(unreadable) else type(unreadable).__name__
        raise UnreadableResponse(f"cannot read the API's answer to {response.request.method} "
                                 f"{response.request.url.path}: {first_line}") from unreadable


def _as_error(response: httpx.Response | None, failure: Exception | None) -> SanacloudError:
    if response is not None:
        return error_from_response(response)
    if isinstance(failure, httpx.TimeoutException):
        return APITimeoutError(f"the API did not answer in time: {failure}")
    return APIConnectionError(f"cannot reach the API: {failure}")

"""Which failures the SDK sends again, and after how long (the live 429/503 retries are in
test_sdk_errors.py): what may have reached the server is repeated only when that is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from sanacloud.client._retry import BACKOFF_CAP_S, retry_delay
from sanacloud.client.errors import retry_after_seconds

NO_KEY_POST, SAFE = False, True


def answer(status: int, retry_after: str | None = None, detail: str = "") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, json={"detail": detail})


def test_retry_after_is_seconds_or_an_http_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "2"})) == 2
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_seconds(httpx.Headers({"Retry-After": later})) or 0) <= 30
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers()) is None


@pytest.mark.parametrize("status", [429, 503])
def test_refusals_before_any_work_are_retried_for_any_method_after_retry_after(status: int) -> None:
    assert retry_delay(NO_KEY_POST, answer(status, "3"), None, 0, 3) == 3


def test_what_may_have_reached_the_server_is_repeated_only_when_safe() -> None:
    assert retry_delay(NO_KEY_POST, answer(502), None, 0, 3) is None
    assert retry_delay(SAFE, answer(502), None, 0, 3) is not None
    assert retry_delay(NO_KEY_POST, None, httpx.ReadError("reset"), 0, 3) is None
    assert retry_delay(NO_KEY_POST, None, httpx.ConnectError("refused"), 0, 3) is not None  # nothing was sent


def test_a_conflict_is_retried_only_where_the_api_says_it_passes() -> None:
    in_progress = "a concurrent request with this Idempotency-Key is still in progress; retry"
    assert retry_delay(SAFE, answer(409, detail=in_progress), None, 0, 3) is not None
    assert retry_delay(SAFE, answer(409, detail="job 'j' already cancelled; nothing to cancel"), None, 0, 3) is None


def test_no_retry_past_max_retries_or_a_long_retry_after_and_backoff_is_capped() -> None:
    assert retry_delay(SAFE, answer(503, "2"), None, 3, 3) is None
    assert retry_delay(SAFE, answer(503, "3600"), None, 0, 3) is None
    assert retry_delay(SAFE, answer(504), None, 0, 99) is not None
    assert 0 < (retry_delay(SAFE, answer(504), None, 20, 99) or 0) <= BACKOFF_CAP_S
    assert retry_delay(SAFE, answer(400), None, 0, 3) is None

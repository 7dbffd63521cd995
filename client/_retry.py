"""When a failed request is sent again, and after how long.

Retried: connection failures, 408, 409 where the API says the conflict passes by itself, 429, 502,
503 and 504, up to `max_retries` times. A request that may have reached the server is sent again
only when that is safe (GET/PUT/DELETE, or a POST with an Idempotency-Key); 429 and 503 are
refusals before any work, and a connection never made sent nothing, so those are retried for any
method. The wait is the `Retry-After` the API sent, else exponential backoff with jitter.
"""

from __future__ import annotations

import random

import httpx

from sanacloud.client.errors import retry_after_seconds

RETRY_STATUSES = frozenset({408, 409, 429, 502, 503, 504})
REFUSED_BEFORE_WORK = frozenset({429, 503})
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAX_RETRY_AFTER_S = 60.0  # asked to wait longer, the SDK raises at once rather than hang the caller
BACKOFF_START_S, BACKOFF_CAP_S = 0.5, 8.0


def retryable_conflict(response: httpx.Response) -> bool:
    """The API ends the detail of a conflict that passes by itself (a concurrent request with the same
    Idempotency-Key, or the same file names, still in progress) with "; retry"."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, str) and detail.rstrip().endswith("; retry")


def retry_delay(idempotent: bool, response: httpx.Response | None, failure: Exception | None, attempt: int,
                max_retries: int) -> float | None:
    """Seconds to wait before sending a request again after `attempt` (0 for the first), or None: do not."""
    if attempt >= max_retries:
        return None
    if response is None:
        if not (idempotent or isinstance(failure, NEVER_SENT)):
            return None
        return backoff(attempt)
    status = response.status_code
    if status not in RETRY_STATUSES or (status == 409 and not retryable_conflict(response)):
        return None
    if status not in REFUSED_BEFORE_WORK and not idempotent:
        return None
    told = retry_after_seconds(response.headers)
    if told is None:
        return backoff(attempt)
    return told if told <= MAX_RETRY_AFTER_S else None


def backoff(attempt: int) -> float:
    return float(min(BACKOFF_CAP_S, BACKOFF_START_S * 2**attempt)) * (1 - 0.25 * random.random())

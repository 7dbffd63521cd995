"""What the SDK raises: one root, and one class per HTTP status the API answers with.

An `APIStatusError` carries the API's problem+json body; `str(error)` is its `detail`, fit to
print as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

REQUEST_ID_HEADERS = ("x-request-id", "request-id")


class SanacloudError(Exception):
    """Everything the SDK raises derives from this."""


class ConfigurationError(SanacloudError):
    """The client cannot be built as asked: no API key, a malformed URL, ..."""


class InvalidUpload(SanacloudError, ValueError):
    """The files given to upload cannot be sent: a path that does not exist, an empty folder."""


class APIConnectionError(SanacloudError):
    """The API could not be reached, or the connection broke before an answer came."""


class APITimeoutError(APIConnectionError):
    """The API did not answer within the client's timeout."""


class UnreadableResponse(SanacloudError):
    """The API answered with a success the SDK cannot read (a server much older or newer than the SDK?)."""


class WaitTimeout(SanacloudError, TimeoutError):
    """A `wait` gave up: what it waited for had not happened within its timeout."""


class APIStatusError(SanacloudError):
    """The API answered with an error status; `problem` is its problem+json body."""

    def __init__(self, message: str, *, status_code: int, problem: dict[str, Any], request_id: str | None,
                 response: httpx.Response | None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.problem = problem
        self.request_id = request_id
        self.response = response


class InvalidRequest(APIStatusError):
    """400 or 422: `errors` names each invalid field, as `{"loc": ..., "msg": ...}`."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        found = self.problem.get("errors")
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


class Unauthorized(APIStatusError):
    """401: the API key is missing, invalid or revoked."""


class PermissionDenied(APIStatusError):
    """403: the key may not do this (its role, or its tenant is disabled)."""


class NotFound(APIStatusError):
    """404: no such object (another tenant's objects do not exist for you)."""


class Conflict(APIStatusError):
    """409: the request conflicts with the object's state."""


class PayloadTooLarge(APIStatusError):
    """413: the request body is over the API's limit."""


class _RetryAfter(APIStatusError):
    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait before retrying, when it said."""
        return retry_after_seconds(self.response.headers) if self.response is not None else None


class RateLimited(_RetryAfter):
    """429: this key sent too many requests; retry after `retry_after` seconds."""


class InternalServerError(APIStatusError):
    """500, or any other 5xx without a class of its own."""


class ServiceUnavailable(_RetryAfter, InternalServerError):
    """503: the database is busy or a dependency cannot be reached; retry after `retry_after` seconds."""


BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: PermissionDenied, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: InvalidRequest, 429: RateLimited, 503: ServiceUnavailable,
}


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date; None if absent or unreadable."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for an error response, its message the problem's `detail` (else its title)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    detail = problem.get("detail") or problem.get("title") or response.text.strip()[:500]
    message = str(detail) if detail else f"HTTP {response.status_code} {response.reason_phrase}"
    status = response.status_code
    kind = BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
    return kind(message, status_code=status, problem=problem, request_id=request_id, response=response)

"""Domain errors raised by services; the API maps each to one problem+json response."""

from __future__ import annotations

from typing import Any

ECHO_CHARS = 100  # of user input a message repeats: enough to recognise it, never a 10,000-character id


def shortened(text: str, limit: int = ECHO_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def echo(value: str) -> str:
    """User input quoted for a message (as repr quotes it), cut short with an ellipsis when long."""
    return repr(value) if len(value) <= ECHO_CHARS else repr(value[:ECHO_CHARS]) + "..."


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(DomainError):
    status = 404
    title = "Not found"

    @classmethod
    def of(cls, kind: str, object_id: str) -> NotFound:
        return cls(f"{kind} {echo(object_id)} does not exist")


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    title = "Payload too large"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class RetryLater(DomainError):
    """A refusal that ends by itself: the response says when to try again (`Retry-After`)."""

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class TooManyRequests(RetryLater):
    status = 429
    title = "Too many requests"


class Unavailable(DomainError):
    status = 503
    title = "Service unavailable"


class Busy(RetryLater):
    """The database could not serve the request in time (a lock wait, a statement or the pool ran
    out of time); the request changed nothing."""

    status = 503
    title = "Service unavailable"

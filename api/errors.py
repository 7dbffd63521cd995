"""Every 4xx/5xx leaves the API in one shape: RFC 9457 problem+json.

{"type", "title", "status", "detail", "instance", "errors": [{"loc", "msg"}]}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sanacloud.api.headers import SECURITY_HEADERS
from sanacloud.api.invalid_input import describe
from sanacloud.platform.errors import DomainError, TooManyRequests, shortened

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PATH_CHARS = 200  # of the request's path a problem repeats


def problem(request: Request, status: int, title: str, detail: str,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "instance": shortened(request.url.path, PATH_CHARS)}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem(request, exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe(exc.errors(), exc.body)
        detail = "; ".join(e["msg"] for e in errors[:5]) or "invalid request"
        return problem(request, 422, "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        path = shortened(request.url.path, PATH_CHARS)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {path}"
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {path}"
        return problem(request, exc.status_code, _title(exc.status_code), detail,
                       headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(request, 500, "Internal server error", "the server failed; the error was logged",
                       headers=SECURITY_HEADERS)  # sent past SecurityHeaders: see there


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

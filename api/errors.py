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

from sanacloud.platform.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(request: Request, status: int, title: str, detail: str,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "instance": request.url.path}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    """One readable line per pydantic error, e.g. "unknown field 'foo'" or "steps: must be >= 1"."""
    loc = tuple(error.get("loc", ()))
    where = _location(loc)
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        field = loc[-1] if loc else "?"
        parent = _location(loc[:-1])
        where_text = f" in {parent}" if parent != "body" else ""
        return {"loc": where, "msg": f"unknown field {field!r}{where_text}; remove it or check its spelling"}
    if kind == "missing":
        return {"loc": where, "msg": f"{where}: field required"}
    if kind == "json_invalid":
        return {"loc": where, "msg": "request body is not valid JSON"}
    return {"loc": where, "msg": f"{where}: {error.get('msg', 'invalid value')}"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem(request, exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e) for e in exc.errors()]
        detail = "; ".join(e["msg"] for e in errors[:5]) or "invalid request"
        return problem(request, 422, "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"
        return problem(request, exc.status_code, _title(exc.status_code), detail,
                       headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(request, 500, "Internal server error", "the server failed; the error was logged")


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

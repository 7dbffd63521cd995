"""Every 4xx/5xx leaves the API in one shape: RFC 9457 problem+json, and the OpenAPI document says so.

{"type", "title", "status", "detail", "instance", "errors": [{"loc", "msg"}]}

Each operation documents the problems it can answer with, as `Problem` in `application/problem+json`:
the ones a router or route declares (`responses=AUTHENTICATED` on a router whose routes need an API
key: 401, 403, 429 and 503; `problems(409)` on a route), and the ones its shape implies: 404 for a path id
(`{..._id}`), 413 and 422 for a request body, 422 for any parameter.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sanacloud.api.headers import request_id, response_headers
from sanacloud.api.invalid_input import NOT_JSON, describe
from sanacloud.api.schemas import Problem
from sanacloud.platform.db.busy import as_busy
from sanacloud.platform.errors import DomainError, RetryLater, shortened

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PATH_CHARS = 200  # of the request's path a problem repeats
DESCRIPTIONS = {
    401: "missing, invalid or revoked API key",
    403: "the API key may not do this: its role, or another tenant's key, or its tenant is disabled",
    404: "no such object (another tenant's objects do not exist for you)",
    409: "the request conflicts with the object's state",
    413: "the request body is too large",
    422: "invalid input: `errors` names each invalid field",
    429: "too many requests: retry after `Retry-After` seconds",
    503: "the database is busy (retry after `Retry-After` seconds), or no GPU is free",
}
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}},
}
BEARER = {"type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <api key>`"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a router or route for problem statuses its shape does not imply."""
    return {status: {"description": DESCRIPTIONS.get(status, HTTPStatus(status).phrase)} for status in statuses}


AUTHENTICATED = problems(401, 403, 429, 503)  # a key is checked in the database, which may be busy


def problem(request: Request, status: int, title: str, detail: str,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "instance": shortened(request.url.path, PATH_CHARS)}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(request: Request, exc: DomainError, *, closing: bool = False) -> JSONResponse:
    """`exc` as a response; `closing` when it answers a request whose body was not read."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, RetryLater):
        headers["Retry-After"] = str(exc.retry_after_s)
    if closing:
        headers["Connection"] = "close"
    return problem(request, exc.status, exc.title, exc.detail, exc.errors, headers or None)


def install_error_handlers(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(request, exc)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_out_of_time(request: Request, exc: Exception) -> JSONResponse:
        refusal = as_busy(exc)
        if refusal is None:
            return _server_error(request, exc)
        log.warning("%s %s: %s", request.method, request.url.path, refusal.detail)
        return domain_problem(request, refusal)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe(exc.errors(), exc.body)
        detail = "; ".join(e["msg"] for e in errors[:5]) or "invalid request"
        return problem(request, 422, "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's reading of JSON
            return problem(request, 422, "Invalid input", f"{NOT_JSON}: not UTF-8",
                           [{"loc": "body", "msg": f"{NOT_JSON}: not UTF-8"}])
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        path = shortened(request.url.path, PATH_CHARS)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {path}"
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {path}"
            headers["Allow"] = _allowed_methods(request)
        return problem(request, exc.status_code, _title(exc.status_code), detail, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _server_error(request, exc)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id(request),
              exc_info=exc)
    return problem(request, 500, "Internal server error", "the server failed; the error was logged",
                   headers=response_headers(request.scope))  # sent past ResponseHeaders: see there


def _allowed_methods(request: Request) -> str:
    """The methods of every route of the path: Starlette's 405 names only those of the first it tried."""
    methods = {method for route in iter_route_contexts(request.app.routes)
               if route.methods and route.matches(dict(request.scope))[0] is not Match.NONE for method in route.methods}
    return ", ".join(sorted(methods))


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's own 422, which the API never sends
        schemas.pop(name, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}), Problem=problem_schema)
    for operation in (op for methods in document["paths"].values() for op in methods.values()):
        _document_operation(operation, components)
    return document


def _document_operation(operation: dict[str, Any], components: dict[str, Any]) -> None:
    responses, parameters = operation["responses"], operation.get("parameters", [])
    declared = {int(status) for status in responses if status.isdigit() and int(status) >= 400}
    implied = {404} if any(p["in"] == "path" and p["name"].endswith("_id") for p in parameters) else set()
    implied |= ({413, 422} if "requestBody" in operation else set()) | ({422} if parameters else set())
    for status in sorted(declared | implied):
        described = status in declared and responses[str(status)].get("description") != "Validation Error"
        responses[str(status)] = {
            "description": responses[str(status)]["description"] if described else DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": PROBLEM_HEADERS[status]} if status in PROBLEM_HEADERS else {}),
        }
    if 401 in declared and "security" not in operation:
        operation["security"] = [{"bearer": []}]
        components.setdefault("securitySchemes", {})["bearer"] = BEARER


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

"""Counts and times every HTTP request by method, route template and status
(`sanacloud_http_requests_total`, `sanacloud_http_request_duration_seconds`).

The route is the template (`/v1/jobs/{job_id}`), never the path: a label per job id would grow
without bound. A request refused before routing (401, 413, 429 from the middleware) is matched
against the app's routes here; one that matches none is `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanacloud.platform.observability.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

UNMATCHED = "unmatched"


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The app's routes with included routers opened up (FastAPI keeps an included router as one
    route, its routes under `original_router`)."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is None:
            yield route
        else:
            yield from flat_routes(inner)


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[BaseRoute] | None = None  # the app's, read at the first request

    def route_template(self, scope: Scope) -> str:
        route: BaseRoute | None = scope.get("route")  # set once the router has chosen one
        if route is None:
            if self._routes is None:
                self._routes = list(flat_routes(scope["app"].router.routes))
            route = next((r for r in self._routes if r.matches(scope)[0] is not Match.NONE), None)
        return str(getattr(route, "path", UNMATCHED))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # 500 if the app raises before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            labels = (scope["method"], self.route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - started)

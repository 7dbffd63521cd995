"""Headers every response carries.

`X-Content-Type-Options: nosniff`: a browser treats a body only as the type it is served as, so
that an uploaded "image" (served through embedded mode's presigned URLs) is never sniffed into
HTML or script on the API's origin.

`X-Request-Id`: one id per request, on every log line written while handling it
(platform/observability/logs.py), so that a user who quotes it (the SDK puts it on every error it
raises) points an operator at the request. A caller's own id (a proxy's, or a client's that traces
its calls) is kept when it is sane: at most 128 characters of letters, digits and `-_.:+=/`.
Anything else is replaced by a generated `req_<hex>`, which the response carries.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanacloud.platform.observability.logs import REQUEST_ID

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
REQUEST_ID_HEADER = "X-Request-Id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:+=/-]{1,128}")


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def chosen_request_id(scope: Scope) -> str:
    """The request's own X-Request-Id if it is sane, else a new one."""
    given: list[str] = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"]
    if len(given) == 1 and SANE_REQUEST_ID.fullmatch(given[0]):
        return given[0]
    return f"req_{uuid.uuid4().hex}"


def response_headers(scope: Scope) -> dict[str, str]:
    return {**SECURITY_HEADERS, REQUEST_ID_HEADER: scope["state"]["request_id"]}


class ResponseHeaders:
    """Add it outermost of the app's middleware (last), so that their own responses get the headers
    too; a 500 leaves through Starlette's ServerErrorMiddleware, outside it, and sets them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.setdefault("state", {})["request_id"] = chosen_request_id(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in response_headers(scope).items():
                    headers.setdefault(name, value)
            await send(message)

        token = REQUEST_ID.set(request_id)
        await self.app(scope, receive, send_with_headers)
        # Not reset on an error: Starlette's server-error handler, outside, logs it with the id.
        REQUEST_ID.reset(token)

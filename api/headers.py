"""Headers every response carries.

`X-Content-Type-Options: nosniff`: a browser treats a body only as the type it is served as, so
that an uploaded "image" (served through embedded mode's presigned URLs) is never sniffed into
HTML or script on the API's origin.

`X-Request-Id`: one id per request, also in the log line of a server error, so that a user who
quotes it (the SDK puts it on every error it raises) points an operator at the request.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
REQUEST_ID_HEADER = "X-Request-Id"


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


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
        scope.setdefault("state", {})["request_id"] = f"req_{uuid.uuid4().hex}"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in response_headers(scope).items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Headers every response carries.

`X-Content-Type-Options: nosniff`: a browser treats a body only as the type it is served as, so
that an uploaded "image" (served through embedded mode's presigned URLs) is never sniffed into
HTML or script on the API's origin.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}


class SecurityHeaders:
    """Add it outermost of the app's middleware (last), so that their own responses get the headers
    too; a 500 leaves through Starlette's ServerErrorMiddleware, outside it, and sets them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

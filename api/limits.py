"""Refuses request bodies over the upload limit before they are read, or as soon as they pass it."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanacloud.api.errors import PATH_CHARS
from sanacloud.platform.errors import PayloadTooLarge, shortened


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self._detail())
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self) -> str:
        return (f"request body exceeds the {self.max_bytes:,}-byte upload limit (SANACLOUD_MAX_UPLOAD_BYTES); "
                "split the upload into several requests")

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps({"type": "about:blank", "title": "Payload too large", "status": 413,
                           "detail": self._detail(),
                           "instance": shortened(scope.get("path", ""), PATH_CHARS)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

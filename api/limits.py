"""Refuses request bodies over their route's limit before they are read, or as soon as they pass it.

Upload routes stream up to the upload limit; every other route's body is JSON and gets a small limit
of its own, so that no route buffers a huge body it would only refuse.
"""

from __future__ import annotations

import json

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanacloud.api.errors import PATH_CHARS
from sanacloud.platform.errors import PayloadTooLarge, shortened

MULTIPART_FRAMING_BYTES = 1024 * 1024  # an upload's multipart framing adds a little to its files
# The routes whose body is an upload, limited by SANACLOUD_MAX_UPLOAD_BYTES: (method, path pattern).
UPLOAD_ROUTES = (("POST", "/v1/datasets/{dataset_id}/files"), ("PUT", "/v1/objects/{key:path}"))


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.upload_routes = [(method, compile_path(path)[0]) for method, path in UPLOAD_ROUTES]
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + MULTIPART_FRAMING_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = self._is_upload(scope)
        detail = self._upload_detail if upload else self._json_detail
        max_bytes = self.max_upload_bytes if upload else self.max_json_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, send, detail(max_bytes))
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(detail(max_bytes))
            return message

        await self.app(scope, counting_receive, send)

    def _is_upload(self, scope: Scope) -> bool:
        return any(scope.get("method") == method and pattern.match(scope["path"])
                   for method, pattern in self.upload_routes)

    @staticmethod
    def _upload_detail(max_bytes: int) -> str:
        return (f"request body exceeds the {max_bytes - MULTIPART_FRAMING_BYTES:,}-byte upload limit "
                "(SANACLOUD_MAX_UPLOAD_BYTES); split the upload into several requests")

    @staticmethod
    def _json_detail(max_bytes: int) -> str:
        return f"request body exceeds the {max_bytes:,}-byte limit for JSON bodies (SANACLOUD_MAX_JSON_BYTES)"

    async def _refuse(self, scope: Scope, send: Send, detail: str) -> None:
        body = json.dumps({"type": "about:blank", "title": "Payload too large", "status": 413, "detail": detail,
                           "instance": shortened(scope.get("path", ""), PATH_CHARS)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

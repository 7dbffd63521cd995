"""Serves embedded mode's presigned URLs: the local object store's stand-in for S3's own."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from sanacloud.api.deps import SettingsDep, StoreDep
from sanacloud.platform.errors import Forbidden, NotFound, PayloadTooLarge
from sanacloud.platform.security import object_signature_problem
from sanacloud.platform.storage import ObjectNotFound
from sanacloud.platform.storage.local import LocalObjectStore

router = APIRouter(prefix="/v1/objects", tags=["objects"], include_in_schema=False)

Expires = Annotated[str, Query(max_length=20)]
Signature = Annotated[str, Query(max_length=128)]


def _authorize(store: object, secret: str, method: str, key: str, expires: str, signature: str) -> None:
    if not isinstance(store, LocalObjectStore):
        raise NotFound("presigned URLs are served by the object store itself in this deployment")
    problem = object_signature_problem(secret, method, key, expires, signature)
    if problem is not None:
        raise Forbidden(problem)


@router.get("/{key:path}")
def get_object(key: str, expires: Expires, signature: Signature, store: StoreDep,
               settings: SettingsDep) -> StreamingResponse:
    _authorize(store, settings.effective_secret_key, "GET", key, expires, signature)
    try:
        size = store.stat(key).size
        chunks = store.open(key)
    except ObjectNotFound:
        raise NotFound.of("object", key) from None
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Length": str(size)})


@router.put("/{key:path}", status_code=204)
async def put_object(key: str, expires: Expires, signature: Signature, request: Request, store: StoreDep,
                     settings: SettingsDep) -> None:
    _authorize(store, settings.effective_secret_key, "PUT", key, expires, signature)
    import tempfile

    from starlette.concurrency import run_in_threadpool

    with tempfile.TemporaryFile() as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_file_bytes:
                raise PayloadTooLarge(f"object larger than the {settings.max_file_bytes}-byte limit")
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(store.put, key, spool, size, request.headers.get("content-type",
                                                                                 "application/octet-stream"))

"""Reads a multipart/form-data upload whole, or refuses it.

Starlette's parser returns the parts that were complete when the body ended, so a body cut off
before its closing boundary ("--boundary--") would silently lose its last file (or all of them).
"""

from __future__ import annotations

from contextlib import aclosing

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

TRUNCATED = "it ends before its closing boundary, so it is truncated or malformed; send the whole upload again"


class _WholeBodyParser(MultiPartParser):
    ended = False

    def on_end(self) -> None:  # called at the closing boundary
        self.ended = True


async def read_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The form of a multipart request; raises MultiPartException (with .message) when it cannot be read."""
    async with aclosing(request.stream()) as stream:
        parser = _WholeBodyParser(request.headers, stream, max_files=max_files, max_fields=max_fields)
        form = await parser.parse()
    if not parser.ended:
        await form.close()
        raise MultiPartException(TRUNCATED)
    return form

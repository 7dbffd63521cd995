"""The dashboard at /dashboard/: the files `npm run build` wrote into ./build (scripts/setup.sh runs it).

The page itself is only static files; everything it shows it asks of the public /v1 API with the
signed-in key, so that it sees exactly what that key may. Its assets have content hashes in their
names, so they are cached for good and index.html not at all.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.requests import Request
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

BUILD = Path(__file__).with_name("build")
# Scripts and styles only from the API itself; images also from the object store's presigned URLs.
POLICY = ("default-src 'self'; img-src 'self' data: http: https:; style-src 'self' 'unsafe-inline'; "
          "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sanacloud: dashboard not built</title></head>
<body><h1>The dashboard is not built</h1>
<p>Build it with <code>scripts/setup.sh</code> (it needs Node.js 20 and npm), or by hand:
<code>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</code>; then reload this page.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p></body></html>
"""


def dashboard_redirect(_: Request) -> Response:
    return RedirectResponse("/dashboard/")


def dashboard_index(_: Request) -> Response:
    index = BUILD / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
    return FileResponse(index, media_type="text/html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": POLICY})


class HashedAssets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_dashboard(app: FastAPI) -> None:
    # Plain Starlette routes, not API operations: no schema, no key, no tenant data.
    app.add_route("/dashboard", dashboard_redirect, methods=["GET"], include_in_schema=False)
    app.add_route("/dashboard/", dashboard_index, methods=["GET"], include_in_schema=False)
    app.mount("/dashboard/assets", HashedAssets(directory=BUILD / "assets", check_dir=False), name="dashboard-assets")

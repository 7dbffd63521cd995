"""The API's documentation pages work without internet: every file they load is the API's own.

Each HTML page the API serves is fetched, and each script, stylesheet and image it references
must be a local URL served 200 with its content type. Where Debian's chromium is installed, it
renders /docs (Swagger UI) and /redoc (ReDoc) from a real server on loopback, on a machine
without internet, and every operation of the API must show up in both.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sanacloud.api.app import create_app
from tests.helpers.backends import reset_caches
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.services import free_port

CHROMIUM = "/usr/bin/chromium"
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SANACLOUD_DATA_DIR", str(tmp_path_factory.mktemp("docs")))
        reset_caches()
        yield create_app()
    reset_caches()


class References(HTMLParser):
    """The URLs a page makes the browser load: scripts, stylesheets, icons, images, ReDoc's spec."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src", "redoc": "spec-url"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def html_pages(app: FastAPI, client: TestClient) -> dict[str, str]:
    paths = [route.path for route in app.routes
             if "GET" in getattr(route, "methods", ()) and "{" not in getattr(route, "path", "{")]
    responses = {path: client.get(path, follow_redirects=False) for path in paths}
    return {path: r.text for path, r in responses.items() if r.headers.get("content-type", "").startswith("text/html")}


def test_every_page_loads_only_files_the_api_serves(app: FastAPI) -> None:
    client = TestClient(app)
    pages = html_pages(app, client)
    assert {"/docs", "/redoc"} <= set(pages), sorted(pages)
    loaded: dict[str, list[str]] = {}
    for path, html in pages.items():
        assert "://" not in html, f"{path} names an absolute URL:\n{html}"
        parser = References()
        parser.feed(html)
        loaded[path] = parser.urls
        for url in parser.urls:
            assert not urlsplit(url).netloc, f"{path} loads {url} from another host"
            response = client.get(url)
            assert response.status_code == 200, f"{path} loads {url}: {response.status_code}"
            expected = CONTENT_TYPES[Path(urlsplit(url).path).suffix]
            assert expected in response.headers["content-type"], f"{url}: {response.headers['content-type']}"
    suffixes = {Path(urlsplit(url).path).suffix for url in loaded["/docs"]}
    assert {".js", ".css"} <= suffixes, loaded["/docs"]


@pytest.fixture(scope="module")
def served(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what=f"the API to listen on port {port}", timeout_s=30)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=scaled(10))


def rendered(url: str) -> str:
    """The page's DOM once its scripts have run, as headless chromium sees it."""
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=scaled(90), check=True).stdout


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_render_every_operation_in_a_browser(app: FastAPI, served: str, page: str) -> None:
    operations = [op["operationId"] for methods in app.openapi()["paths"].values() for op in methods.values()]
    dom = rendered(served + page)
    missing = [operation for operation in operations if operation not in dom]
    assert not missing, f"{page} did not render {len(missing)} of {len(operations)} operations, e.g. {missing[:3]}"

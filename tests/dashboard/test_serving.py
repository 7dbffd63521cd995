"""The API serves the built dashboard at /dashboard/ (and sends / there): its page and every file the page
loads come from the API itself, with their content types; hashed assets are cached for good, the page not.
Without a build, /dashboard/ says how to build it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from sanacloud.api.app import create_app
from sanacloud.api.dashboard import router as dashboard
from tests.helpers.backends import reset_caches
from tests.helpers.dashboard import page_references, require_build

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SANACLOUD_DATA_DIR", str(tmp_path_factory.mktemp("dashboard")))
        reset_caches()
        yield TestClient(create_app())
    reset_caches()


def test_the_root_and_dashboard_without_a_slash_lead_to_the_dashboard(client: TestClient) -> None:
    for path in ("/", "/dashboard"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (302, 307) and response.headers["location"] == "/dashboard/", path


def test_the_page_and_every_file_it_loads_are_the_apis_own(client: TestClient) -> None:
    require_build()
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache" and "script-src" not in page.headers["content-security-policy"]
    assert "://" not in page.text, page.text
    urls = page_references(page.text)
    assert {Path(urlsplit(url).path).suffix for url in urls} == {".js", ".css"}, urls
    for url in urls:
        assert not urlsplit(url).netloc and url.startswith("/dashboard/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, f"{url}: {asset.status_code}"
        assert CONTENT_TYPES[Path(url).suffix] in asset.headers["content-type"], asset.headers["content-type"]
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert b"://" not in asset.content.replace(b"http://www.w3.org/", b""), f"{url} names another host"
    assert client.get("/dashboard/assets/missing.js").status_code == 404


def test_without_a_build_the_page_says_how_to_build_it(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(dashboard, "BUILD", tmp_path)
    response = client.get("/dashboard/")
    assert response.status_code == 503 and "npm ci &amp;&amp; npm run build" in response.text
    assert "scripts/setup.sh" in response.text

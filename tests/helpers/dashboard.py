"""The dashboard in a real browser against a real `sanacloud up`: one platform per test module, one headless
chromium (Debian's, through Playwright's Python package; no browser download), a fresh page per test.

A page may load nothing but loopback: any other request is blocked and fails the test, as does any error
the page throws or any request that fails. `screenshot` saves what the page shows as a test artifact
(`$SANACLOUD_TEST_ARTIFACTS`, default <tmp>/screenshots) and, with SANACLOUD_TEST_UPDATE_SCREENSHOTS=1,
as the README's image docs/screenshots/<name>.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.helpers.deadlines import scaled
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, wait_for_banner
from tests.helpers.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
BUILT_INDEX = ROOT / "api" / "dashboard" / "build" / "index.html"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Chromium logs each 4xx answer to fetch as a console error; the tests make some on purpose.
EXPECTED_CONSOLE_ERROR = "Failed to load resource: the server responded with a status of 4"


def require_build() -> None:
    if not BUILT_INDEX.is_file():
        pytest.fail(f"the dashboard is not built ({BUILT_INDEX} is missing): run scripts/setup.sh, or "
                    "`cd dashboard && npm ci && npm run build`")


def ms(seconds: float) -> float:
    """A scaled deadline in Playwright's unit."""
    return scaled(seconds) * 1000


@dataclass
class Platform:
    """A running `sanacloud up`: its URL, the key its banner shows (the default tenant's), a platform
    admin's key, and the environment for running `sanacloud admin` against it."""
    url: str
    key: str
    admin_key: str
    data_dir: Path
    env: dict[str, str] = field(repr=False)

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"},
                            timeout=scaled(30))

    def admin(self, *args: str) -> str:
        """`sanacloud admin ARGS` on this platform's data; its output, stripped."""
        done = subprocess.run([SANACLOUD, "admin", *args, "--data-dir", str(self.data_dir)],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=scaled(120))
        assert done.returncode == 0, f"sanacloud admin {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def new_tenant(self, name: str) -> str:
        """A new tenant's API key."""
        self.admin("create-tenant", name)
        return self.admin("create-key", "--tenant", name, "--email", f"owner@{name}.example", "--role",
                          "tenant_admin")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    require_build()
    where = tmp_path_factory.mktemp("dashboard-platform")
    data_dir, port = where / "data", free_port()
    # Every checkpoint kept: a page that shows a run's checkpoints must not lose one to pruning between
    # the test's read and the browser's (a long run's best checkpoint is replaced as it improves).
    env = {**EMBEDDED_ENV, "HOME": str(where / "home"), "XDG_STATE_HOME": str(where / "state"),
           "SANACLOUD_KEEP_CHECKPOINTS": "1000"}
    log = where / "up.log"
    with running([SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(port)], env, log):
        key = re.findall(r"API key: (sk_\S+)", wait_for_banner(log))[0]
        up = Platform(url=f"http://127.0.0.1:{port}", key=key, admin_key="", data_dir=data_dir, env=env)
        up.admin_key = up.admin("create-key", "--platform-admin")
        yield up


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}); scripts/setup.sh installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser session (own sessionStorage) whose page fails the test on any error or failed request."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(ms(20))
    problems: list[str] = []
    blocked: set[str] = set()

    def keep_to_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            blocked.add(route.request.url)
            problems.append(f"blocked a request to another host: {route.request.url}")
            route.abort()

    def failed(url: str, failure: str | None) -> None:
        # ERR_ABORTED: the page dropped it (navigated away, or a poll ended with its page).
        if url not in blocked and "ERR_ABORTED" not in (failure or ""):
            problems.append(f"request failed: {url}: {failure}")

    context.route("**/*", keep_to_loopback)
    opened = context.new_page()
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("requestfailed", lambda request: failed(request.url, request.failure))
    opened.on("console", lambda message: problems.append(f"console error: {message.text}")
              if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE_ERROR) else None)
    yield opened
    context.close()
    assert not problems, "\n".join(problems)


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/dashboard/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=ms(20))


def page_references(html: str) -> list[str]:
    """The URLs of the scripts and stylesheets a page loads."""
    return re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+)"', html)


def screenshot(page: Page, name: str, documented: bool = True) -> Path:
    """Saves the whole page as <artifacts>/<name>.png (and, when updating, docs/screenshots/<name>.png unless it
    is not `documented`: an artifact only)."""
    artifacts = Path(os.environ.get("SANACLOUD_TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "screenshots"))
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if documented and os.environ.get("SANACLOUD_TEST_UPDATE_SCREENSHOTS") == "1":
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, docs / f"{name}.png")
    return path

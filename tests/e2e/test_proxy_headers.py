"""`sanacloud api` believes X-Forwarded-For only from the proxies SANACLOUD_FORWARDED_ALLOW_IPS names."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.deadlines import wait_until
from tests.helpers.processes import SANACLOUD, running, wait_healthy
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow
CLAIMED = "203.0.113.7"  # a documentation address no test client has


@pytest.mark.parametrize(("trusted", "believed"), [("", False), ("127.0.0.1", True)], ids=["default", "trusted"])
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(tmp_path: Path, trusted: str,
                                                                    believed: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    env = {"SANACLOUD_DATA_DIR": str(tmp_path / "data"), "SANACLOUD_FORWARDED_ALLOW_IPS": trusted,
           "SANACLOUD_DATABASE_URL": ""}
    (tmp_path / "data").mkdir()
    with running([SANACLOUD, "migrate"], env, tmp_path / "migrate.log") as migrate:
        migrate.wait()
    with running([SANACLOUD, "api", "--host", "127.0.0.1", "--port", str(port)], env, log) as api:
        wait_healthy(url, api, log)
        assert httpx.get(f"{url}/healthz", headers={"X-Forwarded-For": CLAIMED}).status_code == 200
        # uvicorn's access log names the client it believes
        wait_until(lambda: log.read_text().count('"GET /healthz') >= 1, what="the access log line", timeout_s=30)
    logged = log.read_text()
    assert (f"{CLAIMED}:" in logged) is believed, logged[-2000:]

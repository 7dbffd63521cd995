"""One tenant's burst cannot stall a real API process for another tenant, nor its liveness probe.

The burst comes from a key idle for longer than the last-used bookkeeping interval, so that every
request of the burst is due to record that use: the case that froze an API process for minutes when
the record was written inside each request's transaction. The latencies go to bench/api_burst.py's
report; here only a generous bound.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from sanacloud.platform.db import migrate
from tests.helpers.deadlines import scaled
from tests.helpers.processes import SANACLOUD, running, tail, wait_healthy
from tests.helpers.services import free_port, fresh_pg_database

pytestmark = pytest.mark.slow
BURST_REQUESTS, IN_FLIGHT = 400, 50


def bench_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "api_burst.py"
    spec = importlib.util.spec_from_file_location("sanacloud_bench_api_burst", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        migrate.upgrade(url)
        yield url


@pytest.mark.timeout(600)
def test_a_burst_from_an_idle_key_leaves_other_tenants_and_liveness_unharmed(database_url: str,
                                                                          tmp_path: Path) -> None:
    bench = bench_module()
    (idle_id, idle_key), (_, other_key) = bench.two_tenants(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"SANACLOUD_DATABASE_URL": database_url, "SANACLOUD_DATA_DIR": str(tmp_path / "data"),
           "SANACLOUD_RATE_LIMIT_BURST": str(BURST_REQUESTS * 2)}
    log = tmp_path / "api.log"
    with running([SANACLOUD, "api", "--host", "127.0.0.1", "--port", str(port)], env, log) as api:
        wait_healthy(url, api, log)
        bench.make_idle(database_url, idle_id, timedelta(minutes=5))
        report = bench.burst(url, idle_key, other_key, requests=BURST_REQUESTS, concurrency=IN_FLIGHT)
    summary = f"{report.summary()}\n{tail(log)}"
    assert report.burst.statuses == {"200": BURST_REQUESTS}, summary
    assert report.other_tenant.failures == 0 and len(report.other_tenant.latencies) >= 3, summary
    assert report.other_tenant.quantile(0.99) < scaled(10), summary
    assert report.liveness.failures == 0 and report.liveness.quantile(0.99) < scaled(5), summary

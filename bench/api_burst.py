"""One tenant's burst against a real API process, while another tenant and a liveness probe watch.

    python bench/api_burst.py [--requests 400] [--concurrency 50] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Starts `sanacloud api` on a fresh PostgreSQL database, makes tenant A's key idle for longer than
the last-used bookkeeping interval, then fires `--requests` GETs with `--concurrency` in flight
with that key. Meanwhile tenant B makes one request at a time and a probe polls `/healthz`.
Prints the burst's statuses and latencies, B's latencies, and the probe's. The database is dropped
afterwards. `tests/e2e/test_api_under_load.py` runs `burst` against its own API process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

REQUEST_TIMEOUT_S = 60.0


@dataclass
class Series:
    """Latencies (s) of one kind of request, and the status (or error name) of each."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def add(self, started: float, status: str) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1

    @property
    def failures(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != "200")

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, object]:
        return {"requests": len(self.latencies), "statuses": dict(self.statuses),
                "p50_ms": round(self.quantile(0.5) * 1000, 1), "p99_ms": round(self.quantile(0.99) * 1000, 1),
                "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 1)}


@dataclass
class BurstReport:
    burst: Series
    other_tenant: Series
    liveness: Series
    wall_s: float

    def summary(self) -> dict[str, object]:
        return {"burst": self.burst.summary(), "other_tenant": self.other_tenant.summary(),
                "healthz": self.liveness.summary(), "wall_s": round(self.wall_s, 2)}


async def _get(client: httpx.AsyncClient, path: str, key: str | None, series: Series) -> None:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = await client.get(path, headers=headers)
        series.add(started, str(response.status_code))
    except httpx.HTTPError as error:
        series.add(started, type(error).__name__)


async def _burst(url: str, idle_key: str, other_key: str, requests: int, concurrency: int) -> BurstReport:
    report = BurstReport(Series(), Series(), Series(), 0.0)
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client, \
            httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S) as watcher:
        in_flight = asyncio.Semaphore(concurrency)
        done = asyncio.Event()

        async def one() -> None:
            async with in_flight:
                await _get(client, "/v1/datasets", idle_key, report.burst)

        async def other_tenant() -> None:
            while not done.is_set():
                await _get(watcher, "/v1/jobs", other_key, report.other_tenant)

        async def liveness() -> None:
            while not done.is_set():
                await _get(watcher, "/healthz", None, report.liveness)
                await asyncio.sleep(0.1)

        watchers = [asyncio.create_task(other_tenant()), asyncio.create_task(liveness())]
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        report.wall_s = time.perf_counter() - started
        done.set()
        await asyncio.gather(*watchers)
    return report


def burst(url: str, idle_key: str, other_key: str, *, requests: int = 400, concurrency: int = 50) -> BurstReport:
    return asyncio.run(_burst(url, idle_key, other_key, requests, concurrency))


def make_idle(database_url: str, key_id: str, idle_for: timedelta) -> None:
    """Set the key's last use `idle_for` ago, so that its next request is due to record a new one."""
    from sqlalchemy import create_engine, update

    from sanacloud.platform.db.base import utcnow
    from sanacloud.platform.db.models import ApiKey

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow() - idle_for))
    engine.dispose()


def two_tenants(database_url: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """Tenants a and b, each with a tenant-admin key: ((key id, key), (key id, key))."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from sanacloud.platform import accounts
    from sanacloud.platform.db.models import Role

    engine = create_engine(database_url)
    keys = []
    with Session(engine) as session, session.begin():
        for name in ("a", "b"):
            tenant = accounts.create_tenant(session, name=name)
            member = accounts.ensure_member(session, tenant_id=tenant.id, email=f"admin@{name}.example.com",
                                            role=Role.TENANT_ADMIN)
            row, plaintext = accounts.issue_key(session, name="bench", member=member)
            keys.append((row.id, plaintext))
    engine.dispose()
    return keys[0], keys[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import psycopg

    from sanacloud.platform.db import migrate

    name = f"sanacloud_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    sanacloud = str(Path(sys.executable).with_name("sanacloud"))
    try:
        migrate.upgrade(database_url)
        (idle_id, idle_key), (_, other_key) = two_tenants(database_url)
        with tempfile.TemporaryDirectory() as data_dir:
            env = {**os.environ, "SANACLOUD_DATABASE_URL": database_url, "SANACLOUD_DATA_DIR": data_dir,
                   "SANACLOUD_RATE_LIMIT_PER_S": "100000", "SANACLOUD_RATE_LIMIT_BURST": "100000"}
            port = free_port()
            api = subprocess.Popen([sanacloud, "api", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.3)
                make_idle(database_url, idle_id, timedelta(minutes=5))
                report = burst(url, idle_key, other_key, requests=args.requests, concurrency=args.concurrency)
                print(json.dumps(report.summary(), indent=2))
            finally:
                api.terminate()
                try:
                    api.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    api.kill()
    finally:
        with psycopg.connect(args.pg, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

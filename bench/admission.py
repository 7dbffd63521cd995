"""Scheduler admission time with 10,000 queued jobs across 100 tenants in one pool.

    python bench/admission.py [--database-url postgresql+psycopg://...] [--jobs 10000] [--tenants 100]

Without --database-url it runs on a temporary SQLite file. Measures, on the same loaded database:
  read     the floor: selecting the waiting jobs' scheduling columns, nothing else
  plan     the policy alone (pure Python) on the loaded state
  first    a full `schedule_pool` that admits jobs up to the pool's capacity (lock, load, plan, apply)
  steady   the same when nothing fits (every later tick while the queue stays long)
and prints each in ms with steady/read, the cost of scheduling over merely reading the queue.
Sending to the broker is replaced by a no-op (nothing consumes it here); the rest of a dispatch
(recording that it was sent, after the commit) runs against the benchmark's database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sanacloud.platform import queues
from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import GpuPool, Job, Model, Quota, Tenant
from sanacloud.platform.db.session import make_engine
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.scheduler import admission, policy
from sanacloud.platform.serving.generations import warm_gpus
from sanacloud.platform.settings import get_settings

CAPACITY = 64


def populate(session: Session, *, jobs: int, tenants: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    pool = GpuPool(name="h100", gpu_type="h100", capacity_gpus=CAPACITY)
    base = Model(name="sana-tiny", kind="base", family="sana-tiny", uri="builtin://sana-tiny")
    session.add_all([pool, base])
    session.flush()
    tenant_ids = []
    for index in range(tenants):
        tenant = Tenant(name=f"tenant-{index}", fair_share_weight=rng.choice([0.5, 1.0, 1.0, 2.0]))
        session.add(tenant)
        session.flush()
        session.add(Quota(tenant_id=tenant.id, pool_id=pool.id, nominal_gpus=rng.randint(0, 2),
                          borrowing_limit_gpus=rng.randint(0, 4)))
        tenant_ids.append(tenant.id)
    session.add_all(Job(tenant_id=rng.choice(tenant_ids), name=f"job-{i}", type="lora", status=JobStatus.QUEUED,
                        base_model_id=base.id, pool_id=pool.id, gpus=rng.choice([1, 1, 1, 2, 4]),
                        priority=rng.choice([0, 0, 0, 10]), requested={}, hyperparameters={"steps": 1000})
                    for i in range(jobs))
    return pool.id


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    queues.send_training = lambda *_: None  # type: ignore[assignment]  # no broker in this benchmark

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        os.environ["SANACLOUD_DATABASE_URL"] = url  # where a dispatch records its send
        get_settings.cache_clear()
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        with sessions.begin() as session:
            pool_id = populate(session, jobs=args.jobs, tenants=args.tenants)

        def read() -> None:
            with sessions.begin() as session:
                session.execute(select(Job.id, Job.tenant_id, Job.gpus, Job.priority)
                                .where(Job.pool_id == pool_id, Job.status == JobStatus.QUEUED)).all()

        def tick() -> policy.Plan:
            with sessions.begin() as session:
                return admission.schedule_pool(session, pool_id)

        with sessions.begin() as session:
            state = admission.load_state(session, session.get_one(GpuPool, pool_id), warm_gpus(session, pool_id),
                                         admission.read_queue(session, pool_id))
        read_ms = timed(read, args.repeat)
        plan_ms = timed(lambda: policy.plan(state), args.repeat)
        start = time.perf_counter()
        first = tick()
        first_ms = (time.perf_counter() - start) * 1000
        steady_ms = timed(tick, args.repeat)
        result = {"database": engine.dialect.name, "queued": args.jobs, "tenants": args.tenants,
                  "capacity_gpus": CAPACITY, "admitted_first_tick": len(first.admit),
                  "read_ms": round(statistics.median(read_ms), 1), "plan_ms": round(statistics.median(plan_ms), 1),
                  "first_tick_ms": round(first_ms, 1), "steady_tick_ms": round(statistics.median(steady_ms), 1)}
        result["steady_over_read"] = round(result["steady_tick_ms"] / result["read_ms"], 2)
        print(json.dumps(result))
        engine.dispose()


if __name__ == "__main__":
    main()

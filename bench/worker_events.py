"""Worker overhead per trainer event: what relaying an event into `job_events` costs.

    python bench/worker_events.py [--events 20000] [--database-url URL]

A stand-in trainer prints N step events as fast as it can. Measured in the same run:
  baseline   a plain loop reads and parses its stdout (the least any relay must do)
  worker     the worker's real path: TrainerProcess + supervise(), which batches the events into
             the database about once a second (SQLite in a temporary data dir by default)
Prints µs per event for both and the worker's overhead per event over the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAKE_TRAINER = """
import json, sys, time
for step in range(1, {n} + 1):
    sys.stdout.write(json.dumps({{"type": "step", "time": time.time(), "step": step, "loss": 0.1234,
                                 "lr": 1e-4, "grad_norm": 0.5, "samples_per_s": 100.0, "memory_mb": 512.0}}) + "\\n")
sys.stdout.write(json.dumps({{"type": "done", "step": {n}}}) + "\\n")
"""


def baseline(n: int) -> float:
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", FAKE_TRAINER.format(n=n)], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        count = sum(1 for line in child.stdout if json.loads(line))
    assert count == n + 1
    return time.perf_counter() - start


def through_worker(n: int, data_dir: Path) -> float:
    from sanacloud.platform.db.models import Dataset, GpuPool, Job, JobEvent, Model, Tenant
    from sanacloud.platform.db.session import session_scope
    from sanacloud.platform.jobs import lifecycle
    from sanacloud.platform.jobs.status import JobStatus
    from sanacloud.platform.settings import get_settings
    from sanacloud.platform.storage import get_object_store
    from sanacloud.workers.training.child import TrainerProcess
    from sanacloud.workers.training.supervise import Progress, flush_events, supervise
    from sanacloud.workers.training.workspace import Workspace

    with session_scope() as session:
        tenant, pool = Tenant(name="bench"), GpuPool(name="cpu", gpu_type="cpu", capacity_gpus=1)
        base = Model(name="sana-tiny", kind="base", family="sana-tiny", uri="builtin://sana-tiny")
        session.add_all([tenant, pool, base])
        session.flush()
        dataset = Dataset(tenant_id=tenant.id, name="d")
        session.add(dataset)
        session.flush()
        job = Job(tenant_id=tenant.id, name="bench", type="lora", status=JobStatus.ADMITTED, dataset_id=dataset.id,
                  base_model_id=base.id, pool_id=pool.id, attempt=1, requested={}, hyperparameters={})
        session.add(job)
    with session_scope() as session:
        context = lifecycle.claim(session, job_id=job.id, attempt=1, worker="bench:1")
    assert context is not None
    settings = get_settings()
    workspace = Workspace(settings.effective_work_dir, context, get_object_store())
    progress = Progress()
    start = time.perf_counter()
    trainer = TrainerProcess([sys.executable, "-c", FAKE_TRAINER.format(n=n)], stderr_path=data_dir / "stderr")
    supervise(context, trainer, workspace, settings, progress)
    trainer.wait()
    flush_events(context, progress)
    elapsed = time.perf_counter() - start
    with session_scope() as session:
        stored = session.query(JobEvent).filter(JobEvent.job_id == job.id, JobEvent.type == "step").count()
    assert stored == n and progress.done, (stored, progress.done)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update({"SANACLOUD_DATA_DIR": scratch, "SANACLOUD_DATABASE_URL": args.database_url})
        from sanacloud.platform.db import migrate
        from sanacloud.platform.settings import get_settings

        migrate.upgrade(get_settings().effective_database_url)
        base_s = baseline(args.events)
        worker_s = through_worker(args.events, Path(scratch))
    per_event = {"baseline_us": base_s / args.events * 1e6, "worker_us": worker_s / args.events * 1e6}
    print(json.dumps({"events": args.events, **{k: round(v, 1) for k, v in per_event.items()},
                      "overhead_us_per_event": round(per_event["worker_us"] - per_event["baseline_us"], 1),
                      "worker_over_baseline": round(per_event["worker_us"] / per_event["baseline_us"], 2)}))


if __name__ == "__main__":
    main()

"""Cancel stops a busy trainer within seconds and without a checkpoint: while it renders a
checkpoint's samples, while the worker uploads a checkpoint over a stalled link or downloads the
dataset, while it checkpoints for a preemption, and across torchrun's ranks for a full job."""

from __future__ import annotations

import io
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import accounts
from sanacloud.platform.db.models import Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import ObjectInfo, get_object_store
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx, reset_caches
from tests.helpers.deadlines import wait_until
from tests.helpers.processes import trainer_processes
from tests.helpers.workers import QUICK, run_task

STOPPED_WITHIN_S = 5  # heartbeats come every 0.3 s here: the rest is the kill and the worker's bookkeeping
# 16 prompts at 256 px: rendering a checkpoint's samples takes far longer than STOPPED_WITHIN_S.
# Under 1000 steps every step is reported, so the worker knows the step it cancels at.
SLOW_SAMPLES = {**QUICK, "steps": 900, "checkpoint_interval": 3, "resolution": 256,
                "validation_prompts": [f"a red square number {i}" for i in range(16)]}


@pytest.fixture
def long_grace(worker_settings: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A stop grace far beyond the cancel deadline: only a cancel that needs no grace passes."""
    monkeypatch.setenv("SANACLOUD_STOP_GRACE_S", "120")
    reset_caches()
    yield


class Worker:
    """The training task on a thread, as a worker runs it."""

    def __init__(self, job_id: str, attempt: int = 1) -> None:
        self.job_id, self.outcome = job_id, list[str | None]()
        self.thread = threading.Thread(target=lambda: self.outcome.append(run_task(job_id, attempt)), daemon=True)
        self.thread.start()

    def join(self, what: str, timeout_s: float) -> str | None:
        wait_until(lambda: not self.thread.is_alive(), what=what, timeout_s=timeout_s)
        return self.outcome[0]


def running(pids: list[int]) -> list[int]:
    """The pids still running (a killed process waiting to be reaped is not)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def checkpoints_dir(job_id: str, attempt: int = 1) -> Path:
    return get_settings().effective_work_dir / "jobs" / job_id / f"attempt-{attempt}" / "out" / "checkpoints"


def sigterm_pending(pid: int) -> bool:
    """A SIGTERM waits for the (stopped) process: the pending-signal masks in /proc name it."""
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":\t" in line)
    return any(int(status[mask], 16) & 1 << (signal.SIGTERM - 1) for mask in ("SigPnd", "ShdPnd"))


def rendering_samples(job_id: str) -> bool:
    """The trainer is inside a checkpoint, rendering its samples (written once all are rendered)."""
    return any(not any(folder.iterdir()) for folder in checkpoints_dir(job_id).glob("*.tmp/samples"))


def cancel_and_expect_a_quick_stop(client: TestClient, tenant: TenantCtx, worker: Worker, pids: list[int]) -> None:
    """Cancel; the trainer's processes are gone within seconds."""
    assert pids, "no trainer process found"
    assert client.post(f"/v1/jobs/{worker.job_id}/cancel", headers=tenant.headers).status_code == 200
    wait_until(lambda: not running(pids), what="the trainer's processes to end after the cancel",
               timeout_s=STOPPED_WITHIN_S, every_s=0.05, describe=lambda: running(pids))


def assert_cancelled_without_a_new_checkpoint(client: TestClient, tenant: TenantCtx, job_id: str,
                                              checkpoints_before: list[int]) -> dict[str, Any]:
    job = get_job(client, tenant, job_id)
    assert job["status"] == "cancelled"
    recorded = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=tenant.headers).json()
    assert [c["step"] for c in recorded] == checkpoints_before
    keys = object_keys(f"tenants/{tenant.id}/jobs/{job_id}/checkpoints/")
    stored = {key.split("/checkpoints/")[1].split("/")[0] for key in keys}
    assert stored == {f"step-{step:06d}" for step in checkpoints_before}, "an unrecorded checkpoint was left stored"
    log = events(client, tenant, job_id)
    stopped = [e["payload"] for e in log if e["type"] == "stopped"]
    assert len(stopped) == 1 and stopped[0]["reason"] == "cancelled" and stopped[0]["checkpointed"] is False
    assert stopped[0]["message"] == f"cancelled at step {stopped[0]['step']}; stopped without writing a checkpoint"
    assert log[-1]["type"] == "status" and log[-1]["payload"]["to"] == "cancelled"
    assert log[-2]["type"] == "stopped"
    return stopped[0]


def object_keys(prefix: str) -> list[str]:
    return [info.key for info in get_object_store().list(prefix)]


@pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)  # one backend: the path is the same
@pytest.mark.usefixtures("long_grace")
def test_cancel_while_rendering_samples_stops_at_once(client: TestClient, tenant: TenantCtx) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=4), hyperparameters=SLOW_SAMPLES)
                    ).json()["id"]
    worker = Worker(job_id)
    wait_until(lambda: rendering_samples(job_id), what="the trainer to render its first checkpoint's samples",
               timeout_s=120, every_s=0.05, describe=lambda: get_job(client, tenant, job_id))

    cancel_and_expect_a_quick_stop(client, tenant, worker, trainer_processes(job_id))
    assert worker.join("the task to end after the cancel", timeout_s=STOPPED_WITHIN_S) == "cancelled"
    stopped = assert_cancelled_without_a_new_checkpoint(client, tenant, job_id, checkpoints_before=[])
    assert stopped["step"] == 3


class StalledLink:
    """The object store's uploads of checkpoint files stall after their first KiB until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.uploading, self.released = threading.Event(), threading.Event()
        store = get_object_store()
        self._put = store.put
        monkeypatch.setattr(store, "put", self.put)

    def put(self, key: str, data: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> ObjectInfo:
        if "/checkpoints/" not in key:
            return self._put(key, data, length, content_type)
        sent = data.read(1024)
        self.uploading.set()
        self.released.wait(timeout=120)
        sent += data.read()
        return self._put(key, io.BytesIO(sent), len(sent), content_type)


@pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
@pytest.mark.usefixtures("long_grace")
def test_cancel_during_a_checkpoint_upload_stops_at_once_and_keeps_no_partial_checkpoint(
        client: TestClient, tenant: TenantCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    link = StalledLink(monkeypatch)
    long_run = {**QUICK, "steps": 900, "checkpoint_interval": 3}
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=4), hyperparameters=long_run)
                    ).json()["id"]
    worker = Worker(job_id)
    try:
        wait_until(link.uploading.is_set, what="the worker to upload the first checkpoint", timeout_s=120,
                   describe=lambda: get_job(client, tenant, job_id))
        cancel_and_expect_a_quick_stop(client, tenant, worker, trainer_processes(job_id))
    finally:
        link.released.set()  # the link recovers; the upload must not go on
    assert worker.join("the task to end after the cancel", timeout_s=STOPPED_WITHIN_S) == "cancelled"
    assert_cancelled_without_a_new_checkpoint(client, tenant, job_id, checkpoints_before=[])


class StalledDownload:
    """Downloads of dataset images stall after the first image until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.downloading, self.released = threading.Event(), threading.Event()
        store = get_object_store()
        self._open = store.open
        monkeypatch.setattr(store, "open", self.open)

    def open(self, key: str) -> Iterator[bytes]:
        if "/datasets/" in key and self.downloading.is_set():
            self.released.wait(timeout=120)
        self.downloading.set()
        return self._open(key)


def heard_since_the_cancel(job_id: str) -> bool:
    """The worker's heartbeat has brought the cancel back."""
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        return bool(job.heartbeat_at and job.cancel_requested_at and job.heartbeat_at > job.cancel_requested_at)


@pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
@pytest.mark.usefixtures("long_grace")
def test_cancel_while_the_dataset_downloads_never_starts_training(
        client: TestClient, tenant: TenantCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=4), hyperparameters=QUICK)
                    ).json()["id"]
    link = StalledDownload(monkeypatch)
    worker = Worker(job_id)
    try:
        wait_until(link.downloading.is_set, what="the worker to download the dataset", timeout_s=60)
        assert client.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers).status_code == 200
        wait_until(lambda: heard_since_the_cancel(job_id), what="a heartbeat after the cancel", timeout_s=10)
    finally:
        link.released.set()  # the link recovers; the download must not go on
    assert worker.join("the task to end after the cancel", timeout_s=STOPPED_WITHIN_S) == "cancelled"
    stopped = assert_cancelled_without_a_new_checkpoint(client, tenant, job_id, checkpoints_before=[])
    assert stopped["step"] == 0
    assert not [e for e in events(client, tenant, job_id) if e["type"] in ("start", "step")]


@pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
@pytest.mark.usefixtures("long_grace")
def test_cancel_during_a_preemption_checkpoint_cancels_instead_of_requeueing(
        client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    lender, owner = make_tenant("lender", nominal_gpus=0, borrow=1), make_tenant("owner", nominal_gpus=1)
    with session_scope() as session:
        accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=1)
    long_run = {**QUICK, "steps": 900, "checkpoint_interval": 900}  # no checkpoint but the preemption's
    job_id = submit(client, lender, lora_job(ready_dataset(client, lender, images=4), hyperparameters=long_run)
                    ).json()["id"]
    worker = Worker(job_id)
    wait_until(lambda: get_job(client, lender, job_id)["step"] >= 1, what="the borrowed job's first step",
               timeout_s=120, describe=lambda: get_job(client, lender, job_id))
    [trainer] = trainer_processes(job_id)
    os.kill(trainer, signal.SIGSTOP)  # held mid-run: the preemption's checkpoint cannot finish before the cancel
    nominal = submit(client, owner, lora_job(ready_dataset(client, owner, images=2), hyperparameters=QUICK)).json()
    wait_until(lambda: sigterm_pending(trainer), what="the worker to ask the trainer to checkpoint for the preemption",
               timeout_s=60, describe=lambda: get_job(client, lender, job_id))

    cancel_and_expect_a_quick_stop(client, lender, worker, trainer_processes(job_id))
    assert worker.join("the task to end after the cancel", timeout_s=STOPPED_WITHIN_S) == "cancelled"
    assert_cancelled_without_a_new_checkpoint(client, lender, job_id, checkpoints_before=[])
    statuses = [e["payload"]["to"] for e in events(client, lender, job_id) if e["type"] == "status"]
    assert statuses == ["queued", "admitted", "running", "cancelled"]
    assert get_job(client, owner, nominal["id"])["status"] == "admitted"  # the GPU went to the nominal tenant


@pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)
@pytest.mark.usefixtures("long_grace")
def test_cancel_of_a_two_process_full_job_ends_every_rank(client: TestClient, tenant: TenantCtx) -> None:
    body = {"type": "full", "dataset_id": ready_dataset(client, tenant, images=4), "base_model": "sana-tiny",
            "gpus": 2, "hyperparameters": {**SLOW_SAMPLES, "checkpoint_interval": 900}}
    job_id = submit(client, tenant, body).json()["id"]
    worker = Worker(job_id)
    wait_until(lambda: get_job(client, tenant, job_id)["step"] >= 1, what="the full job's first step",
               timeout_s=180, describe=lambda: get_job(client, tenant, job_id))
    pids = trainer_processes(job_id)
    assert len(pids) >= 3, f"expected torchrun and two ranks, found {pids}"

    cancel_and_expect_a_quick_stop(client, tenant, worker, pids)
    assert worker.join("the task to end after the cancel", timeout_s=STOPPED_WITHIN_S) == "cancelled"
    assert_cancelled_without_a_new_checkpoint(client, tenant, job_id, checkpoints_before=[])

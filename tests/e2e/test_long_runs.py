"""Training runs longer than the broker's patience, on Redis and on RabbitMQ, with the broker's
timeouts shortened to seconds: Redis's visibility timeout, RabbitMQ's consumer timeout (checked
every second instead of every minute) and its heartbeat, while the training worker connects.

A LoRA run on sana-tiny holds its worker many times longer; meanwhile a second job's message
waits in the broker's queue, not on the busy worker, and a second worker started mid-run (on
Redis its first poll restores every message left unacknowledged past the visibility timeout)
takes that job and nothing else. Each job succeeds in attempt 1 with one `running` event, each
training message is received once, and no worker ever reconnects to the broker.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import flow
from tests.helpers.brokers import REDIS_URL, rabbitmq_server_settings, rabbitmq_vhost, redis_broker
from tests.helpers.cluster import bucket_name, cluster_settings, migrate_and_make_admin_key, start_api
from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.images import captioned_zip
from tests.helpers.processes import SANACLOUD, running, wait_for_text
from tests.helpers.services import fresh_pg_database

pytestmark = pytest.mark.slow
POOL = "cpu"
QUEUE = f"train.{POOL}"
PATIENCE_S = 2  # each broker timeout, shortened
HELD_S = 3 * PATIENCE_S  # by then a held message would have been redelivered, or its channel closed
# About 30 s of training on an idle 2-core machine (60 steps ended before the second worker was up)
LONG = {"steps": 150, "checkpoint_interval": 150, "batch_size": 2, "resolution": 64}
SHORT = {"steps": 2, "checkpoint_interval": 2, "batch_size": 2, "resolution": 64}


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "redis":
        with redis_broker() as env:
            yield {**env, "SANACLOUD_BROKER_VISIBILITY_TIMEOUT_S": str(PATIENCE_S)}
    else:  # a channel checks its consumer timeout at each tick: 60 s unless told
        with rabbitmq_vhost() as env, rabbitmq_server_settings(channel_tick_interval=1000):
            yield env


def is_amqp(env: dict[str, str]) -> bool:
    return env["SANACLOUD_BROKER_URL"].startswith("amqp")


def broker_patience_shortened(env: dict[str, str]) -> Any:
    """Around a training worker's start: RabbitMQ reads these when a connection or channel opens."""
    if is_amqp(env):
        return rabbitmq_server_settings(consumer_timeout=PATIENCE_S * 1000, heartbeat=1)
    return nullcontext()


def queue_state(env: dict[str, str]) -> dict[str, int]:
    """RabbitMQ: training messages ready in the queue and its consumers. Redis: messages in the
    queue, and training messages delivered but not acknowledged."""
    if is_amqp(env):
        from kombu import Connection

        with Connection(env["SANACLOUD_BROKER_URL"]) as connection:
            _, ready, consumers = connection.default_channel.queue_declare(QUEUE, passive=True)
        return {"ready": ready, "consumers": consumers}
    import redis

    prefix = env["SANACLOUD_BROKER_KEY_PREFIX"]
    with redis.Redis.from_url(REDIS_URL) as client:
        held = [json.loads(value)[2] for value in client.hvals(f"{prefix}unacked")]  # [message, exchange, key]
        return {"ready": client.llen(f"{prefix}{QUEUE}"), "unacknowledged": held.count(QUEUE)}


def received(log: Path) -> int:
    return len(re.findall(r"Task sanacloud\.train\.run\[[^]]+\] received", log.read_text()))


@pytest.mark.timeout(600)  # 50-200 s each on a 2-core machine, by its load
def test_a_run_longer_than_the_brokers_timeouts_completes_once(broker: dict[str, str], s3_server: str,
                                                               tmp_path: Path) -> None:
    with fresh_pg_database() as database_url, ExitStack() as stack:
        env = cluster_settings(database_url=database_url, s3_server=s3_server, broker=broker,
                               data_dir=tmp_path / "data", bucket=bucket_name("long-runs", tmp_path),
                               scheduler_tick_s="1", heartbeat_s="0.5", heartbeat_timeout_s="10")
        admin_key = migrate_and_make_admin_key(env)
        url = start_api(stack, env, tmp_path / "api.log")
        # The reaper runs too: it must not mistake a long run for a lost one.
        stack.enter_context(running([SANACLOUD, "worker", "--queues", "maintenance"], env, tmp_path / "maint.log"))
        stack.enter_context(running([SANACLOUD, "beat"], env, tmp_path / "beat.log"))
        admin = stack.enter_context(httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"},
                                                 timeout=scaled(30)))
        tenant = admin.post("/v1/admin/tenants", json={"name": "acme"}).json()
        admin.put(f"/v1/admin/pools/{POOL}", json={"gpu_type": "cpu", "capacity_gpus": 2}).raise_for_status()
        admin.put(f"/v1/admin/tenants/{tenant['id']}/quotas/{POOL}", json={"nominal_gpus": 2}).raise_for_status()
        key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys",
                         json={"name": "ci", "email": "ci@acme.example.com", "role": "tenant_admin"}).json()["key"]
        http = stack.enter_context(httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                                timeout=scaled(30)))
        dataset = http.post("/v1/datasets", json={"name": "shapes"}).json()["id"]
        http.post(f"/v1/datasets/{dataset}/files", files=[("files", ("set.zip", captioned_zip(4)))]).raise_for_status()

        def start_training_worker(name: str) -> tuple[int, Path]:
            log = tmp_path / f"{name}.log"
            worker = stack.enter_context(running([SANACLOUD, "worker", "--queues", QUEUE, "--pool", "solo",
                                                  "--hostname", f"{name}@%h"], env, log))
            wait_for_text(log, "ready.")
            return worker.pid, log

        def submit(hyperparameters: dict[str, int]) -> str:
            body = {"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny",
                    "hyperparameters": hyperparameters}
            return str(http.post("/v1/jobs", json=body).raise_for_status().json()["id"])

        def status(job_id: str) -> str:
            return str(http.get(f"/v1/jobs/{job_id}").json()["status"])

        with broker_patience_shortened(env):
            first_pid, first_log = start_training_worker("train1")
        long_job = submit(LONG)
        flow.wait_for_status(http, long_job, "running", timeout_s=60, where=f"(logs in {tmp_path})")
        started = time.monotonic()
        short_job = submit(SHORT)
        waiting = {"ready": 1, "consumers": 0} if is_amqp(env) else {"ready": 1, "unacknowledged": 0}
        wait_until(lambda: queue_state(env) == waiting, what=f"{QUEUE} to hold only the second job's message",
                   timeout_s=30, describe=lambda: queue_state(env))
        # Waiting out the broker's patience is the point here: the run holds its worker meanwhile.
        wait_until(lambda: time.monotonic() - started >= HELD_S, what="the run to outlast the broker's timeouts",
                   timeout_s=HELD_S + 5)
        assert status(short_job) == "admitted" and queue_state(env) == waiting
        second_pid, second_log = start_training_worker("train2")
        assert status(long_job) == "running", "the long run ended before the second worker came up; make it longer"

        for job_id, hyperparameters, pid in ((short_job, SHORT, second_pid), (long_job, LONG, first_pid)):
            job = flow.wait_for_status(http, job_id, "succeeded", where=f"(logs in {tmp_path})")
            assert job["attempt"] == 1 and job["step"] == hyperparameters["steps"]
            events = http.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["items"]
            status_events = [e["payload"] for e in events if e["type"] == "status"]
            assert [e["to"] for e in status_events] == ["queued", "admitted", "running", "succeeded"]
            assert status_events[2]["worker"].endswith(f":{pid}")
        for log in (first_log, second_log):
            text = log.read_text()
            assert received(log) == 1, f"a training message was delivered again:\n{text[-3000:]}"
            assert text.count("Connected to ") == 1, f"the worker reconnected to the broker:\n{text[-3000:]}"
            assert "not admitted any more" not in text

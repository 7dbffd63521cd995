"""Brokers for end-to-end tests, each owned by one test run and left as it was found.

Redis: a key prefix of the run's own (kombu's `global_keyprefix`, SANACLOUD_BROKER_KEY_PREFIX) on
the default Redis, checked empty first; only that prefix's keys are deleted afterwards, nothing is
flushed. RabbitMQ: a vhost of the run's own, and server settings changed for a while and
restored (`rabbitmqctl`, which needs root or the rabbitmq user for the node's Erlang cookie).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_BASE = "amqp://guest:guest@127.0.0.1:5672"


def run_prefix() -> str:
    return f"sanacloud-test-{uuid.uuid4().hex[:12]}"


@contextmanager
def redis_broker() -> Iterator[dict[str, str]]:
    """Settings for a Redis broker under a fresh key prefix; its keys are deleted afterwards."""
    import redis

    prefix = f"{run_prefix()}:"
    client = redis.Redis.from_url(REDIS_URL)
    assert next(client.scan_iter(match=f"{prefix}*"), None) is None, f"keys under {prefix} exist already"
    try:
        yield {"SANACLOUD_BROKER_URL": REDIS_URL, "SANACLOUD_BROKER_KEY_PREFIX": prefix}
    finally:
        owned = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if owned:
            client.delete(*owned)
        client.close()


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout.strip()


def require_rabbitmqctl() -> None:
    """Skips the test, saying why, where the RabbitMQ node cannot be managed from here."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    done = subprocess.run(["rabbitmqctl", "eval", "ok."], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"rabbitmqctl cannot reach the node (run as root or the rabbitmq user): {done.stderr[-300:]}")


@contextmanager
def rabbitmq_vhost() -> Iterator[dict[str, str]]:
    """Settings for a RabbitMQ broker on a fresh vhost, deleted afterwards with all its queues."""
    require_rabbitmqctl()
    vhost = run_prefix()
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield {"SANACLOUD_BROKER_URL": f"{AMQP_BASE}/{vhost}"}
    finally:
        rabbitmqctl("delete_vhost", vhost)


@contextmanager
def rabbitmq_server_settings(**values: int) -> Iterator[None]:
    """Set the server's `rabbit` application settings (e.g. consumer_timeout) for a while, then
    put back what was there. They are global: keep the while short."""
    require_rabbitmqctl()
    before = {name: rabbitmqctl("eval", f"application:get_env(rabbit, {name}).") for name in values}
    try:
        for name, value in values.items():
            rabbitmqctl("eval", f"application:set_env(rabbit, {name}, {int(value)}).")
        yield
    finally:
        for name, old in before.items():  # `{ok,60000}`, or `undefined`
            if old.startswith("{ok,"):
                rabbitmqctl("eval", f"application:set_env(rabbit, {name}, {old.removeprefix('{ok,')[:-1]}).")
            else:
                rabbitmqctl("eval", f"application:unset_env(rabbit, {name}).")

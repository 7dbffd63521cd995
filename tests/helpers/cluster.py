"""Cluster mode for end-to-end tests: the settings its processes share (the test's own PostgreSQL
database, moto's S3 server, a broker the test owns), the CLI, and an API process."""

from __future__ import annotations

import os
import subprocess
from contextlib import ExitStack
from pathlib import Path

from tests.helpers.deadlines import scaled
from tests.helpers.processes import SANACLOUD, running, wait_healthy
from tests.helpers.services import free_port

SECRET_KEY = "a-cluster-secret-of-more-than-thirty-two-characters"


def cluster_settings(*, database_url: str, s3_server: str, broker: dict[str, str], data_dir: Path, bucket: str,
                **settings: str) -> dict[str, str]:
    """The environment of every process of one test cluster; `settings` without the prefix."""
    return {"SANACLOUD_MODE": "cluster", "SANACLOUD_DATABASE_URL": database_url, **broker,
            "SANACLOUD_STORAGE_BACKEND": "s3", "SANACLOUD_S3_ENDPOINT": s3_server,
            "SANACLOUD_S3_PUBLIC_URL": f"http://{s3_server}", "SANACLOUD_S3_ACCESS_KEY": "testing",
            "SANACLOUD_S3_SECRET_KEY": "cluster-test-secret", "SANACLOUD_S3_BUCKET": bucket,
            "SANACLOUD_SECRET_KEY": SECRET_KEY, "SANACLOUD_DATA_DIR": str(data_dir),
            **{f"SANACLOUD_{name.upper()}": value for name, value in settings.items()}}


def bucket_name(prefix: str, tmp_path: Path) -> str:
    """A bucket of this test's own (moto's server outlives one test)."""
    return f"{prefix}-{tmp_path.name[-20:].lower().replace('_', '-')}"


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([SANACLOUD, *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=scaled(120))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def migrate_and_make_admin_key(env: dict[str, str]) -> str:
    cli(env, "migrate")
    return cli(env, "admin", "create-key", "--platform-admin")


def start_api(stack: ExitStack, env: dict[str, str], log: Path) -> str:
    """An API process on a free loopback port, stopped with `stack`; its URL once it is ready."""
    url = f"http://127.0.0.1:{free_port()}"
    api = stack.enter_context(running([SANACLOUD, "api", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]],
                                      env, log))
    wait_healthy(url, api, log)
    return url

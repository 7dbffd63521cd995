"""`sanacloud up`: the whole platform on one machine: API, a worker and beat, on SQLite, a local
object store and Celery's filesystem broker, all under one data directory."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from sanacloud.platform.processes import die_with_parent

if TYPE_CHECKING:
    from sanacloud.platform.bootstrap import EmbeddedCredentials

DEFAULT_DATA_DIR = Path.home() / ".sanacloud"
# Housekeeping (the scheduler's tick) must not wait behind a training run: two workers.
MAINTENANCE_WORKER = ("--queues", "maintenance", "--concurrency", "1")
GPU_WORKER = ("--queues", "train.local,infer.local", "--pool", "solo", "--hostname", "gpu@%h")


def up(
    data_dir: Annotated[Path, typer.Option(help="where the database, objects and broker live")] = DEFAULT_DATA_DIR,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Run the embedded platform (a second `up` on the same data dir reuses everything in it)."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(data_dir)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    os.environ.update({"SANACLOUD_MODE": "embedded", "SANACLOUD_DATA_DIR": str(data_dir),
                       "SANACLOUD_PUBLIC_URL": os.environ.get("SANACLOUD_PUBLIC_URL", url)})
    credentials = _prepare(data_dir)
    children = [_spawn("worker", *MAINTENANCE_WORKER), _spawn("worker", *GPU_WORKER), _spawn("beat")]
    typer.echo(f"sanacloud is up at {url}  (API docs: {url}/docs)\n"
               f"  tenant:  {credentials.tenant}\n  API key: {credentials.api_key}\n"
               f"  data:    {data_dir}\n"
               f"try: curl -H 'Authorization: Bearer {credentials.api_key}' {url}/v1/datasets")
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into an exit so that the
    # children are stopped below rather than orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        import uvicorn

        uvicorn.run("sanacloud.api.app:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        lock.close()


def _lock(data_dir: Path) -> TextIO:
    handle = (data_dir / "up.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        typer.echo(f"error: another `sanacloud up` is already running on {data_dir}", err=True)
        raise typer.Exit(code=1) from None
    return handle


def _prepare(data_dir: Path) -> EmbeddedCredentials:
    from sanacloud.platform import bootstrap
    from sanacloud.platform.db import migrate
    from sanacloud.platform.db.session import session_scope
    from sanacloud.platform.settings import get_settings

    get_settings.cache_clear()
    migrate.upgrade(get_settings().effective_database_url)
    with session_scope() as session:
        bootstrap.register_builtin_models(session)
        return bootstrap.ensure_embedded_tenant(session, data_dir / "credentials.json")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "sanacloud.workers.celery_app", *args, "--loglevel", "INFO"]
    return subprocess.Popen(argv, env=os.environ.copy(), preexec_fn=die_with_parent())

"""`sanacloud up`: the whole platform on one machine: API, a worker and beat, on SQLite, a local
object store and Celery's filesystem broker, all under one data directory.

The terminal shows what the user needs (the banner, then warnings and errors); every process's
full log goes to `DATA_DIR/logs/`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from sanacloud.cli import children
from sanacloud.cli.instance import RunningUp, recorded
from sanacloud.cli.messages import fail
from sanacloud.cli.target import choose_data_dir

if TYPE_CHECKING:
    from sanacloud.platform.bootstrap import EmbeddedCredentials


DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", show_default=False,
    help="where the database, objects, broker and logs live (default: SANACLOUD_DATA_DIR, else ~/.sanacloud)")]


def up(
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Run the embedded platform (a second `up` on the same data dir reuses everything in it)."""
    import uvicorn

    from sanacloud.cli.readiness import Announcer, Banner

    chosen = choose_data_dir(data_dir, look_for_running=False)
    root, logs = chosen.path, chosen.path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    lock = _lock(root)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    typer.echo(f"starting sanacloud in {root}" + (f" ({chosen.chosen_by})" if chosen.chosen_by else "") + " ...")
    os.environ.update({"SANACLOUD_MODE": "embedded", "SANACLOUD_DATA_DIR": str(root),
                       "SANACLOUD_PUBLIC_URL": os.environ.get("SANACLOUD_PUBLIC_URL", url)})
    _share_metrics(root)
    credentials = _prepare(root)
    # uvicorn re-raises the signal that stopped it; make that an exit, so that the children are stopped below.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: sys.exit(0))
    server = uvicorn.Server(uvicorn.Config("sanacloud.api.app:create_app", factory=True, host=host, port=port,
                                           log_config=_api_logging(logs / "api.log")))
    processes = children.start_all(logs)
    try:
        Announcer(server, processes, Banner(url, credentials.tenant, credentials.api_key, root, logs)).start()
        with recorded(RunningUp(root, url, os.getpid())):
            server.run()
    finally:
        server.should_exit = True  # also when it never started (its port taken): the children's ends are expected
        children.stop_all(processes)
        lock.close()


def _share_metrics(data_dir: Path) -> None:
    """The API and the workers keep their metrics in one folder for /metrics to sum
    (platform/observability/), emptied at each start as prometheus_client needs."""
    from sanacloud.platform.observability.metrics import share_through

    folder = data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    share_through(folder)


def _lock(data_dir: Path) -> TextIO:
    handle = (data_dir / "up.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise fail(f"another `sanacloud up` is already running on {data_dir}") from None
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


def _api_logging(log_file: Path) -> dict[str, Any]:
    """The API's log (uvicorn's and the app's) into `log_file`; warnings and errors on the terminal too."""
    from sanacloud.platform.observability.logs import formatter_config
    from sanacloud.platform.settings import get_settings

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": formatter_config(get_settings().log_format)},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(log_file), "formatter": "plain"},
            "terminal": {"class": "logging.StreamHandler", "level": "WARNING", "formatter": "plain"},
        },
        "root": {"handlers": ["file", "terminal"], "level": "INFO"},
    }

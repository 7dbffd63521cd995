"""The commands that run the platform itself (they need the `[server]` extra): `up`, `api`, `worker`,
`beat`, `migrate`, `attempt`, and the admin commands that work on the database directly."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sanacloud.cli import admin, embedded
from sanacloud.cli.target import DataDirOption, open_platform
from sanacloud.platform.settings import get_settings

Host = Annotated[str, typer.Option(help="address to listen on")]
Port = Annotated[int, typer.Option(help="port to listen on")]


def add_server_commands(app: typer.Typer, admin_app: typer.Typer, *, panel: str, database_panel: str) -> None:
    app.command("up", rich_help_panel=panel)(embedded.up)
    for command in (migrate, api, worker, beat, attempt):
        app.command(rich_help_panel=panel)(command)
    for info in admin.app.registered_commands:
        assert info.callback is not None
        admin_app.command(info.name, rich_help_panel=database_panel)(info.callback)


def migrate(revision: Annotated[str, typer.Option(help="target revision")] = "head",
            data_dir: DataDirOption = None) -> None:
    """Create or upgrade the database, then register the shipped base models."""
    from sanacloud.platform import bootstrap
    from sanacloud.platform.db import migrate as migrations
    from sanacloud.platform.db.session import session_scope

    open_platform(data_dir, create=True)
    url = get_settings().effective_database_url
    migrations.upgrade(url, revision)
    if revision == "head":
        with session_scope() as session:
            bootstrap.register_builtin_models(session)
    typer.echo(f"database at revision {migrations.current(url)}")


def api(host: Host = "0.0.0.0", port: Port = 8000,
        workers: Annotated[int, typer.Option(help="API processes")] = 1, data_dir: DataDirOption = None) -> None:
    """Run the REST API."""
    import uvicorn

    from sanacloud.platform.observability.logs import server_logging

    open_platform(data_dir)
    trusted = get_settings().forwarded_allow_ips
    uvicorn.run("sanacloud.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                log_config=server_logging(get_settings().log_format))


def worker(queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = "maintenance",
           concurrency: Annotated[int, typer.Option(help="task processes")] = 1,
           pool: Annotated[str, typer.Option(help="Celery pool; 'solo' runs the task in the worker process "
                                                  "(what GPU workers use: one run each)")] = "prefork",
           hostname: Annotated[str, typer.Option(help="node name, e.g. gpu1@%h; unique per worker")] = "celery@%h",
           data_dir: DataDirOption = None) -> None:
    """Run a Celery worker."""
    open_platform(data_dir)
    _exec_celery("worker", "--queues", queues, "--concurrency", str(concurrency), "--pool", pool,
                 "--hostname", hostname, "--loglevel", "INFO")


def beat(data_dir: DataDirOption = None) -> None:
    """Run the periodic scheduler (one per deployment)."""
    open_platform(data_dir)
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule file there
    _exec_celery("beat", "--loglevel", "INFO")


def attempt(job_id: Annotated[str, typer.Argument(help="the job's id")],
            attempt_number: Annotated[int, typer.Argument(metavar="ATTEMPT", help="its current attempt")],
            nodes: Annotated[int, typer.Option(min=1, help="nodes the run spans (this one's rank: "
                                                           "JOB_COMPLETION_INDEX)")] = 1,
            rendezvous: Annotated[str, typer.Option(help="HOST:PORT of node 0, for a run across nodes")] = "",
            data_dir: DataDirOption = None) -> None:
    """Run one admitted training attempt in this process: what the Kubernetes executor's pods run."""
    from sanacloud.workers.training import pod
    from sanacloud.workers.training.child import Rendezvous

    if nodes > 1 and ":" not in rendezvous:
        raise typer.BadParameter("a run across nodes needs --rendezvous HOST:PORT", param_hint="--rendezvous")
    open_platform(data_dir)
    meeting = None
    if nodes > 1:
        host, _, port = rendezvous.rpartition(":")
        meeting = Rendezvous(nodes=nodes, node_rank=pod.node_rank(), host=host, port=int(port))
    raise typer.Exit(pod.main(job_id, attempt_number, rendezvous=meeting))


def _exec_celery(*args: str) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "sanacloud.workers.celery_app", *args]
    os.execv(argv[0], argv)

"""The `sanacloud` command: the user commands (the SDK's, `sanacloud.client.commands`) and, where the
`[server]` extra is installed, the commands that run and bootstrap the platform. Without it those
commands say what to install and exit 2."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import typer
from rich.markup import escape

from sanacloud.client.commands import add_user_commands

SERVER_PACKAGES = ("fastapi", "sqlalchemy", "alembic", "celery", "uvicorn")
SERVER_COMMANDS = ("up", "api", "worker", "beat", "migrate", "attempt")
DATABASE_ADMIN_COMMANDS = ("create-tenant", "create-key", "set-pool", "set-quota")
NEEDS_SERVER = "this needs the server: pip install 'sanacloud[server]'"
SERVER_PANEL = "Run the platform (needs the server)"
DATABASE_PANEL = "On the database directly, for bootstrap (needs the server)"

app = typer.Typer(help="sanacloud: fine-tune and serve Sana models.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
admin_app = typer.Typer(help="Administer the platform: tenants, keys, pools and quotas, through the API with a "
                             "platform admin's key, or on the database directly to bootstrap it.",
                        no_args_is_help=True)


def server_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in SERVER_PACKAGES)


def needs_server(ctx: typer.Context) -> None:
    typer.echo(f"error: `sanacloud {ctx.command_path.removeprefix('sanacloud ')}`: {NEEDS_SERVER}", err=True)
    raise typer.Exit(2)


def add_server_placeholders(app: typer.Typer, admin_app: typer.Typer) -> None:
    anything = {"allow_extra_args": True, "ignore_unknown_options": True}
    shown = f"(not installed) {escape(NEEDS_SERVER)}"  # help is rich markup, where [server] would be a style
    for name in SERVER_COMMANDS:
        app.command(name, help=shown, context_settings=anything, rich_help_panel=SERVER_PANEL)(needs_server)
    for name in DATABASE_ADMIN_COMMANDS:
        admin_app.command(name, help=shown, context_settings=anything, rich_help_panel=DATABASE_PANEL)(needs_server)


def runs_a_user_command(app: typer.Typer, argv: list[str]) -> bool:
    """Whether this process is the `sanacloud` program running one of the user commands, which need
    nothing of the server. (Imported by anything else, such as tests, the command is whole.)"""
    if not argv or Path(argv[0]).stem != "sanacloud":
        return False
    first = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
    names = {info.name for info in app.registered_commands} | {info.name for info in app.registered_groups}
    return first in names


add_user_commands(app, admin_app)
# Importing the server's commands takes half a second: only when the command line may run or list them.
if not runs_a_user_command(app, sys.argv):
    if server_installed():
        from sanacloud.cli.server import add_server_commands

        add_server_commands(app, admin_app, panel=SERVER_PANEL, database_panel=DATABASE_PANEL)
    else:
        add_server_placeholders(app, admin_app)
app.add_typer(admin_app, name="admin")

"""The user commands of `sanacloud` (typer + rich), each a thin layer over the SDK: login, datasets, jobs,
checkpoints, models, endpoints, generate, usage, members, keys, and the API's admin groups.
`sanacloud.cli.main` adds them to the command beside the server's."""

from __future__ import annotations

import typer

from sanacloud.client.commands import admin, checkpoints, datasets, endpoints, jobs, models, team
from sanacloud.client.commands.generate import generate
from sanacloud.client.commands.login import login
from sanacloud.client.commands.usage import usage

API_PANEL = "Through the API (a platform admin's key)"


def add_user_commands(app: typer.Typer, admin_app: typer.Typer) -> None:
    app.command("login")(login)
    app.add_typer(datasets.app, name="datasets")
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(checkpoints.app, name="checkpoints")
    app.add_typer(models.app, name="models")
    app.add_typer(endpoints.app, name="endpoints")
    app.command("generate")(generate)
    app.command("usage")(usage)
    app.add_typer(team.members, name="members")
    app.add_typer(team.keys, name="keys")
    for name, group in admin.GROUPS.items():
        admin_app.add_typer(group, name=name, rich_help_panel=API_PANEL)

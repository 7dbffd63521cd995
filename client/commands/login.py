"""`sanacloud login`: check an API key against the API, then keep the URL and key for the other commands."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sanacloud.client.commands import config
from sanacloud.client.commands.output import Output
from sanacloud.client.commands.session import USAGE_ERROR, command_session


def login(
    url: Annotated[str | None, typer.Option(
        help=f"the API (default: {config.URL_VARIABLE}, else the stored one, else {config.DEFAULT_URL}; "
             "asked for on a terminal)", show_default=False)] = None,
    api_key: Annotated[str | None, typer.Option(
        help=f"the key (default: {config.KEY_VARIABLE}; asked for on a terminal, else read from stdin)",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the stored URL and file as JSON")] = False,
) -> None:
    """Store the API's URL and your key in ~/.config/sanacloud/config.json (readable by you only)."""
    interactive = sys.stdin.isatty()
    if url is None:
        url = os.environ.get(config.URL_VARIABLE) or _stored_url() or config.DEFAULT_URL
        if interactive:
            url = typer.prompt("API URL", default=url)
    api_key = api_key or os.environ.get(config.KEY_VARIABLE)
    if not api_key:
        api_key = (typer.prompt("API key", hide_input=True) if interactive else sys.stdin.readline()).strip()
    if not api_key:
        Output(as_json=as_json).error(f"no API key given: pass --api-key, set {config.KEY_VARIABLE}, or type it")
        raise typer.Exit(USAGE_ERROR)
    with command_session(as_json=as_json, url=url.rstrip("/"), api_key=api_key) as cli:
        cli.client.base_models.list()  # any valid key may read the catalog: a wrong key or URL ends here
        path = config.store(cli.target)
        cli.out.said({"url": cli.target.url, "config_file": str(path)},
                     f"logged in to {cli.target.url}; the key is stored in {path} (readable by you only)")


def _stored_url() -> str | None:
    try:
        return config.stored().get("url")
    except config.ConfigProblem:
        return None  # login writes the file anew

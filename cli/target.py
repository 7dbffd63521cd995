"""Which platform a command acts on, and whether its database is ready for it.

Embedded, the data dir decides: `--data-dir`, else SANACLOUD_DATA_DIR, else the data dir of the
`sanacloud up` running now, else ~/.sanacloud. In a cluster (SANACLOUD_DATABASE_URL set) the
database URL decides. The command says which one it used unless `--data-dir` named it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from sanacloud.cli.instance import find_running
from sanacloud.cli.messages import fail, note
from sanacloud.platform.db import migrate
from sanacloud.platform.db.session import get_engine, get_sessionmaker
from sanacloud.platform.settings import get_settings

DATA_DIR_VARIABLE = "SANACLOUD_DATA_DIR"

DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", show_default=False,
    help="the embedded platform's data dir (default: SANACLOUD_DATA_DIR, else the running `sanacloud up`'s, "
         "else ~/.sanacloud); not used when SANACLOUD_DATABASE_URL is set")]


@dataclass(frozen=True)
class DataDir:
    path: Path
    chosen_by: str | None  # how it was found; None when --data-dir named it


def default_data_dir() -> Path:
    return Path.home() / ".sanacloud"


def choose_data_dir(option: Path | None, *, look_for_running: bool) -> DataDir:
    if option is not None:
        return DataDir(option.expanduser().resolve(), None)
    if os.environ.get(DATA_DIR_VARIABLE):
        return DataDir(Path(os.environ[DATA_DIR_VARIABLE]).expanduser().resolve(), f"from {DATA_DIR_VARIABLE}")
    running = find_running() if look_for_running else []
    if len(running) > 1:
        listed = ", ".join(str(each.data_dir) for each in running)
        raise fail(f"several `sanacloud up` are running ({listed}): choose one with --data-dir")
    if running:
        return DataDir(running[0].data_dir, f"of `sanacloud up` at {running[0].url}, pid {running[0].pid}")
    return DataDir(default_data_dir(), "the default")


def open_platform(option: Path | None, *, create: bool = False) -> None:
    """Points this process's settings and sessions at the platform's database.

    Unless `create` (what `sanacloud migrate` does), a database that is missing or behind the
    latest revision ends the command with a one-line error that says what to run, and nothing
    is created: SQLite would make an empty database file on the first connect.
    """
    get_settings.cache_clear()
    try:
        url = get_settings().database_url
    except ValidationError as error:
        raise fail(f"invalid settings: {settings_problems(error)}") from None
    if url:
        where = f"database {make_url(url).render_as_string(hide_password=True)} (from SANACLOUD_DATABASE_URL)"
        if option is not None:
            where += "; --data-dir does not apply to it"
        flag = ""
    else:
        data_dir = choose_data_dir(option, look_for_running=True)
        os.environ[DATA_DIR_VARIABLE] = str(data_dir.path)
        where = f"data dir {data_dir.path}" + (f" ({data_dir.chosen_by})" if data_dir.chosen_by else "")
        flag = "" if option is None else f" --data-dir {data_dir.path}"
        if create:
            data_dir.path.mkdir(parents=True, exist_ok=True)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    if not create:
        _check_migrated(get_settings().effective_database_url, where=where, flag=flag)
    if option is None:
        note(f"using {where}")


def settings_problems(error: ValidationError) -> str:
    """Each problem with the setting it concerns; the values stay out (they may be passwords)."""
    problems = []
    for each in error.errors(include_input=False, include_url=False):
        message = str(each["msg"]).removeprefix("Value error, ")
        problems.append(f"SANACLOUD_{str(each['loc'][0]).upper()}: {message}" if each["loc"] else message)
    return "; ".join(problems)


def _check_migrated(url: str, *, where: str, flag: str) -> None:
    database_file = _sqlite_file(url)
    if database_file is not None and not database_file.exists():
        raise fail(f"no sanacloud database in {where}: start the platform with `sanacloud up{flag}`, "
                   f"or create only its database with `sanacloud migrate{flag}`")
    try:
        revision = migrate.current(url)
    except SQLAlchemyError as error:
        raise fail(f"cannot open the {where}: {first_line(error)}") from None
    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    if revision is None:
        raise fail(f"the {where} has no sanacloud schema: run `sanacloud migrate{flag}`")
    # A revision these scripts do not know is a newer release's, which migrated the database; this
    # one goes on (as old API pods do while a rollout replaces them).
    known = {script.revision for script in scripts.walk_revisions()}
    if revision in known and revision not in scripts.get_heads():
        raise fail(f"the {where} is at revision {revision}, not {scripts.get_current_head()}: "
                   f"run `sanacloud migrate{flag}`")


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def first_line(error: SQLAlchemyError) -> str:
    """The database's own message, without SQLAlchemy's statement and background link."""
    return str(getattr(error, "orig", None) or error).splitlines()[0]

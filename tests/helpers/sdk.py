"""The SDK against real API processes: `sanacloud up` on SQLite (API and workers), or a lone API
process on a PostgreSQL database of its own; and folders of captioned images to upload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.cluster import migrate_and_make_admin_key, start_api
from tests.helpers.images import png
from tests.helpers.processes import EMBEDDED_ENV, SANACLOUD, running, wait_for_banner
from tests.helpers.services import free_port, fresh_pg_database

COLORS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200), "yellow": (200, 200, 30)}


@dataclass(frozen=True)
class LiveAPI:
    url: str
    api_key: str  # `sanacloud up`'s default tenant's admin key, or a platform admin's key
    env: dict[str, str]
    log: Path


@contextmanager
def embedded_platform(tmp_path: Path) -> Iterator[LiveAPI]:
    """`sanacloud up` as a new user runs it: API, workers and beat on SQLite and a local folder."""
    port = free_port()
    env = {**EMBEDDED_ENV, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state")}
    log = tmp_path / "up.log"
    with running([SANACLOUD, "up", "--data-dir", str(tmp_path / "data"), "--port", str(port)], env, log):
        key = re.findall(r"API key: (sk_\S+)", wait_for_banner(log))[0]
        yield LiveAPI(f"http://127.0.0.1:{port}", key, env, log)


@contextmanager
def postgres_api(tmp_path: Path, **settings: str) -> Iterator[LiveAPI]:
    """An API process on a fresh PostgreSQL database, with a platform admin's key; `settings` without
    the prefix."""
    with fresh_pg_database() as database_url, ExitStack() as stack:
        env = api_env(tmp_path, database_url, **settings)
        admin_key = migrate_and_make_admin_key(env)  # `migrate` registers sana-tiny too
        url = start_api(stack, env, tmp_path / "api.log")
        yield LiveAPI(url, admin_key, env, tmp_path / "api.log")


def api_env(tmp_path: Path, database_url: str, **settings: str) -> dict[str, str]:
    return {"SANACLOUD_DATABASE_URL": database_url, "SANACLOUD_DATA_DIR": str(tmp_path / "data"),
            "SANACLOUD_STORAGE_BACKEND": "local", "SANACLOUD_BROKER_URL": "",
            **{f"SANACLOUD_{name.upper()}": value for name, value in settings.items()}}


def image_folder(folder: Path, count: int = 4) -> Path:
    """`count` 64x64 PNGs with .txt captions, one of them in a subfolder."""
    for index in range(count):
        name, color = list(COLORS.items())[index % len(COLORS)]
        where = folder / ("more" if index == count - 1 else "")
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{index:03d}.png").write_bytes(png(color=color))
        (where / f"{index:03d}.txt").write_text(f"a {name} square")
    return folder

"""Where the user commands find the API and the key: flags, then SANACLOUD_BASE_URL / SANACLOUD_API_KEY,
then what `sanacloud login` stored in `$XDG_CONFIG_HOME/sanacloud/config.json` (readable by its owner only)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"
URL_VARIABLE = "SANACLOUD_BASE_URL"
KEY_VARIABLE = "SANACLOUD_API_KEY"


class ConfigProblem(Exception):
    """The config file exists but cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str | None


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sanacloud" / "config.json"


def stored() -> dict[str, str]:
    path = config_file()
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigProblem(f"cannot read {path}: {error}; run `sanacloud login` again") from None
    if not isinstance(found, dict) or not all(isinstance(value, str) for value in found.values()):
        raise ConfigProblem(f"{path} is not what `sanacloud login` writes; run `sanacloud login` again")
    return found


def resolve(url: str | None, api_key: str | None) -> Target:
    """Each of the URL and the key from the first place that has it."""
    saved = {} if url and api_key else stored()
    return Target(url=url or os.environ.get(URL_VARIABLE) or saved.get("url") or DEFAULT_URL,
                  api_key=api_key or os.environ.get(KEY_VARIABLE) or saved.get("api_key"))


def store(target: Target) -> Path:
    """Writes the file with 0600 permissions from its first byte (never readable by others, even briefly)."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": target.url, "api_key": target.api_key}, file, indent=2)
        file.write("\n")
    partial.replace(path)
    return path

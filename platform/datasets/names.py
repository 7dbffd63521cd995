"""Client-supplied file names: normalised to relative posix paths, or the whole upload is refused.

A name that is absolute, climbs out with `..`, or carries NUL/control characters is a security
problem, never a file to skip: the caller raises InvalidInput for the entire upload.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata

from sanacloud.platform.errors import InvalidInput

MAX_NAME_CHARS = 1024
_DRIVE = re.compile(r"^[A-Za-z]:")  # C:\x, C:x
_JUNK_BASENAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})


def normalise_name(raw: str, *, kind: str = "file", where: str = "") -> str:
    """`raw` as a relative posix path ("cats/001.png").

    Errors read "{kind} {raw!r}{where} ...", e.g. "zip entry '../x.png' in 'a.zip' escapes the dataset folder".
    """
    shown = f"{kind} {raw[:80]!r}{'...' if len(raw) > 80 else ''}{where}"
    if "\x00" in raw:
        raise InvalidInput(f"{shown} contains a NUL byte")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise InvalidInput(f"{shown} contains control characters")
    if len(raw) > MAX_NAME_CHARS:
        raise InvalidInput(f"{shown} is longer than {MAX_NAME_CHARS} characters")
    name = unicodedata.normalize("NFC", raw).replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise InvalidInput(f"{shown} escapes the dataset folder (absolute path)")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"{shown} escapes the dataset folder")
    if not parts:
        raise InvalidInput(f"{shown} has no file name")
    return "/".join(parts)


def join_name(folder: str, name: str) -> str:
    """`name` (already normalised) inside `folder` (normalised or "")."""
    return f"{folder}/{name}" if folder else name


def folder_of(name: str) -> str:
    return posixpath.dirname(name)


def suffix_of(name: str) -> str:
    """The lower-cased extension with its dot, "" when there is none (".bashrc" has none)."""
    return posixpath.splitext(name)[1].lower()


def is_junk(name: str) -> bool:
    """Files that operating systems add to folders and archives: ignored without a warning."""
    parts = name.split("/")
    base = parts[-1]
    return "__MACOSX" in parts or base.startswith("._") or base.lower() in _JUNK_BASENAMES

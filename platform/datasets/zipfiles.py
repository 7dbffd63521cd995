"""Zip archives in an upload: every entry is checked before anything is extracted.

Symlinks, encrypted entries and names that escape the dataset folder refuse the whole upload.
Reading is streamed in chunks; the caller counts the bytes against its limits (CPython's
zipfile also stops at the declared size and then fails the CRC check, so a lying header
becomes a corrupt-archive refusal rather than extra bytes).
"""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import BinaryIO

from sanacloud.platform.datasets.names import is_junk, join_name, normalise_name
from sanacloud.platform.errors import InvalidInput

_OPEN_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError)
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class ZipMember:
    name: str  # normalised, inside the folder the archive was uploaded to
    info: zipfile.ZipInfo


def open_archive(stream: BinaryIO, archive: str) -> zipfile.ZipFile:
    try:
        stream.seek(0)
        return zipfile.ZipFile(stream)
    except _OPEN_ERRORS as exc:
        raise InvalidInput(f"{archive!r} is not a valid zip archive ({exc})") from exc


def archive_members(archive_file: zipfile.ZipFile, archive: str, folder: str) -> list[ZipMember]:
    """The archive's files (not folders, not OS junk), after refusing anything unsafe in any entry."""
    members: list[ZipMember] = []
    for info in archive_file.infolist():
        raw = info.orig_filename  # ZipInfo.filename is cut at a NUL byte; the original is not
        name = normalise_name(raw, kind="zip entry", where=f" in {archive!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInput(f"zip entry {raw!r} in {archive!r} is a symbolic link; archive the files themselves")
        if info.is_dir() or is_junk(name):
            continue
        if info.flag_bits & 0x1:
            raise InvalidInput(f"zip entry {raw!r} in {archive!r} is encrypted; upload an archive without a password")
        members.append(ZipMember(join_name(folder, name), info))
    return members


def member_chunks(archive_file: zipfile.ZipFile, member: ZipMember, archive: str,
                  chunk_size: int) -> Generator[bytes, None, None]:
    """The member's uncompressed bytes in chunks; a corrupt entry refuses the upload."""
    try:
        with archive_file.open(member.info) as fp:
            while chunk := fp.read(chunk_size):
                yield chunk
    except _READ_ERRORS as exc:
        raise InvalidInput(
            f"{archive!r} is not a valid zip archive: entry {member.info.orig_filename!r} cannot be read ({exc})"
        ) from exc

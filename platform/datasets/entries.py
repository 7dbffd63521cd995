"""An upload's entries: listed and checked (names, count, declared sizes) before any byte is
extracted, then copied into `workdir` under generated names while every byte is counted.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import posixpath
import tempfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from sanacloud.model.metadata_jsonl import METADATA_NAME
from sanacloud.model.sidecar_captions import SIDECAR_SUFFIX
from sanacloud.platform.datasets.images import image_suffixes
from sanacloud.platform.datasets.names import folder_of, is_junk, normalise_name, suffix_of
from sanacloud.platform.datasets.upload import IncomingFile, IntakeLimits
from sanacloud.platform.datasets.zipfiles import archive_members, member_chunks, open_archive
from sanacloud.platform.errors import InvalidInput, PayloadTooLarge

CHUNK_BYTES = 1 << 20


class Kind(enum.Enum):
    IMAGE = "image"
    CAPTION = "caption"
    METADATA = "metadata"
    ARCHIVE = "archive"  # a zip inside a zip: not expanded
    OTHER = "other"


@dataclass(frozen=True)
class Entry:
    name: str
    declared_size: int
    origin: str  # for messages: "'a.png'" or "'a.png' in 'data.zip'"
    chunks: Callable[[], Generator[bytes, None, None]]

    @property
    def kind(self) -> Kind:
        suffix = suffix_of(self.name)
        if posixpath.basename(self.name).lower() == METADATA_NAME:
            return Kind.METADATA
        if suffix == SIDECAR_SUFFIX:
            return Kind.CAPTION
        if suffix == ".zip":
            return Kind.ARCHIVE
        return Kind.IMAGE if suffix in image_suffixes() else Kind.OTHER


@dataclass(frozen=True)
class Spooled:
    name: str
    path: Path
    size: int
    sha256: str


def list_entries(files: list[IncomingFile], limits: IntakeLimits, archives: contextlib.ExitStack) -> list[Entry]:
    """Every entry of the upload, sorted by name, after the name, count and declared-size checks."""
    entries: list[Entry] = []
    for incoming in files:
        name = normalise_name(incoming.filename)
        if is_junk(name):
            continue
        if suffix_of(name) == ".zip":
            archive = archives.enter_context(open_archive(incoming.stream, name))
            entries += [Entry(member.name, member.info.file_size, f"{member.name!r} in {name!r}",
                              partial(member_chunks, archive, member, name, CHUNK_BYTES))
                        for member in archive_members(archive, name, folder_of(name))]
        else:
            entries.append(Entry(name, incoming.size, repr(name), partial(_stream_chunks, incoming.stream)))
        if len(entries) > limits.max_files:
            raise PayloadTooLarge(f"the upload holds more than {limits.max_files:,} files (after unzipping); "
                                  "split it into several uploads")
    origins: dict[str, str] = {}
    for entry in entries:
        if entry.name in origins:
            raise InvalidInput(f"the upload contains {entry.name!r} twice ({origins[entry.name]} and {entry.origin}); "
                               "rename one of them")
        origins[entry.name] = entry.origin
        if entry.declared_size > limits.max_file_bytes:
            raise _file_too_large(entry, entry.declared_size, limits)
    total = sum(entry.declared_size for entry in entries)
    if total > limits.max_total_bytes:
        raise _upload_too_large(total, limits)
    return sorted(entries, key=lambda entry: entry.name)


def _stream_chunks(stream: BinaryIO) -> Generator[bytes, None, None]:
    stream.seek(0)
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _file_too_large(entry: Entry, size: int | None, limits: IntakeLimits) -> PayloadTooLarge:
    """`size` as declared, or None when counting the bytes ran past the limit."""
    how_big = f"{size:,} bytes" if size is not None else f"larger than {limits.max_file_bytes:,} bytes"
    return PayloadTooLarge(f"{entry.origin} is {how_big}; the limit is {limits.max_file_bytes:,} bytes per file")


def _upload_too_large(total: int | None, limits: IntakeLimits) -> PayloadTooLarge:
    how_big = f"{total:,} bytes" if total is not None else f"larger than {limits.max_total_bytes:,} bytes"
    return PayloadTooLarge(f"the upload is {how_big} after unzipping; the limit is {limits.max_total_bytes:,} bytes; "
                           "split it into several uploads")


class Spool:
    """Copies entries into `workdir` under generated names, counting every byte against the limits."""

    def __init__(self, workdir: Path, limits: IntakeLimits) -> None:
        self.workdir = workdir
        self.limits = limits
        self.total = 0
        self.paths: list[Path] = []

    def write(self, entry: Entry) -> Spooled:
        fd, raw_path = tempfile.mkstemp(prefix="upload-", suffix=".bin", dir=self.workdir)
        path = Path(raw_path)
        self.paths.append(path)
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, contextlib.closing(entry.chunks()) as chunks:
            for chunk in chunks:
                size += len(chunk)
                self.total += len(chunk)
                if size > self.limits.max_file_bytes:
                    raise _file_too_large(entry, None, self.limits)
                if self.total > self.limits.max_total_bytes:
                    raise _upload_too_large(None, self.limits)
                digest.update(chunk)
                out.write(chunk)
        return Spooled(entry.name, path, size, digest.hexdigest())

    def discard(self, keep: set[Path]) -> None:
        for path in self.paths:
            if path not in keep:
                path.unlink(missing_ok=True)

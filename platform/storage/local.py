"""Object store on a local folder, for embedded mode. Presigned URLs are served by the API."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from sanacloud.platform.security import signed_object_query
from sanacloud.platform.storage.base import ObjectInfo, ObjectNotFound, ObjectStore

CHUNK = 1024 * 1024
PARTIAL = ".upload-"  # put()'s file until it is complete and renamed to its key


class LocalObjectStore(ObjectStore):
    """Keys map to files under `root`. Unlike S3, a key cannot also be a folder of other keys
    (`a` and `a/b` cannot both exist); the platform's keys never need that."""

    def __init__(self, root: Path, public_url: str, secret_key: str) -> None:
        self.root = root.resolve()
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        path = (self.root / key).resolve()
        if any(p in {"", ".", ".."} for p in parts) or not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"object key outside the store: {key!r}")
        return path

    def put(self, key: str, data: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a reader never sees half an object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=PARTIAL)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            self._prune_empty_parents(path.parent)
            raise
        return ObjectInfo(key=key, size=path.stat().st_size)

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        return self._chunks(handle)

    @staticmethod
    def _chunks(handle: BinaryIO) -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return ObjectInfo(key=key, size=path.stat().st_size)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(PARTIAL):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    yield ObjectInfo(key=key, size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC))

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                continue
            self._prune_empty_parents(path.parent)

    def discard_partial_writes(self, before: datetime) -> int:
        """Delete the files of puts whose process died mid-write, last written before `before`."""
        removed = 0
        for path in list(self.root.rglob(PARTIAL + "*")):  # pruning folders while walking them would fail
            try:
                if datetime.fromtimestamp(path.stat().st_mtime, UTC) >= before:
                    continue
                path.unlink()
            except FileNotFoundError:  # its put finished (renamed it) or failed meanwhile
                continue
            self._prune_empty_parents(path.parent)
            removed += 1
        return removed

    def _prune_empty_parents(self, folder: Path) -> None:
        while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    def _signed_url(self, method: str, key: str, expires_s: int) -> str:
        self._path(key)
        query = urlencode(signed_object_query(self.secret_key, method, key, expires_s))
        return f"{self.public_url}/v1/objects/{quote(key)}?{query}"

    def presigned_get_url(self, key: str, expires_s: int) -> str:
        return self._signed_url("GET", key, expires_s)

    def presigned_put_url(self, key: str, expires_s: int) -> str:
        return self._signed_url("PUT", key, expires_s)

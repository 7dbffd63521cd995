"""The object-store interface. Keys are `/`-separated; their layout is `keys.py`'s."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO


class ObjectNotFound(KeyError):
    """No object is stored under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # When the object was written (timezone-aware); set by list(), which the orphan sweep reads.
    modified: datetime | None = field(default=None, compare=False)


class ObjectStore(ABC):
    @abstractmethod
    def put(self, key: str, data: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> ObjectInfo:
        """Store a stream under `key` (multipart for large or unknown-length streams)."""

    @abstractmethod
    def open(self, key: str) -> Iterator[bytes]:
        """Yield the object's bytes in chunks; raises ObjectNotFound."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Raises ObjectNotFound."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, recursively, with its `modified` time."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Delete the given keys; missing keys are not an error."""

    @abstractmethod
    def presigned_get_url(self, key: str, expires_s: int) -> str: ...

    @abstractmethod
    def presigned_put_url(self, key: str, expires_s: int) -> str: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> ObjectInfo:
        import io

        return self.put(key, io.BytesIO(data), len(data), content_type)

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.open(key))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def copy(self, source: str, target: str) -> ObjectInfo:
        """Copy one object to another key (through a spooled temporary file unless overridden)."""
        import tempfile

        with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as buffer:
            for chunk in self.open(source):
                buffer.write(chunk)
            size = buffer.tell()
            buffer.seek(0)
            return self.put(target, buffer, size)  # type: ignore[arg-type]

    def discard_partial_writes(self, before: datetime) -> int:
        """Delete what interrupted puts left outside any listing, last written before `before`; returns
        how many. S3 keeps an interrupted multipart upload's parts itself: a bucket lifecycle rule
        (AbortIncompleteMultipartUpload) removes them, so there is nothing to do here."""
        return 0

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        self.delete(keys)
        return len(keys)

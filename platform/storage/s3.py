"""Object store on MinIO or any S3 API, through the `minio` client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import BinaryIO

from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from sanacloud.platform.storage.base import ObjectInfo, ObjectNotFound, ObjectStore

PART_SIZE = 16 * 1024 * 1024  # multipart chunk for streams of unknown or large length
CHUNK = 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}


@contextmanager
def _missing_is_not_found(key: str) -> Iterator[None]:
    try:
        yield
    except S3Error as error:
        if error.code in _MISSING:
            raise ObjectNotFound(key) from None
        raise


class S3ObjectStore(ObjectStore):
    def __init__(self, client: Minio, bucket: str, signer: Minio | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.signer = signer or client  # presigns URLs for where their holders reach the store

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket)

    def put(self, key: str, data: BinaryIO, length: int | None = None,
            content_type: str = "application/octet-stream") -> ObjectInfo:
        result = self.client.put_object(
            self.bucket, key, data, length=-1 if length is None else length,
            part_size=PART_SIZE, content_type=content_type,
        )
        size = length if length is not None else self.stat(result.object_name).size
        return ObjectInfo(key=key, size=size)

    def open(self, key: str) -> Iterator[bytes]:
        with _missing_is_not_found(key):
            response = self.client.get_object(self.bucket, key)
        return self._chunks(response)

    @staticmethod
    def _chunks(response) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def copy(self, source: str, target: str) -> ObjectInfo:
        """Server-side: the bytes never leave the store."""
        with _missing_is_not_found(source):
            self.client.copy_object(self.bucket, target, CopySource(self.bucket, source))
        return self.stat(target)

    def stat(self, key: str) -> ObjectInfo:
        with _missing_is_not_found(key):
            info = self.client.stat_object(self.bucket, key)
        return ObjectInfo(key=key, size=info.size or 0)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            if obj.object_name is not None:
                yield ObjectInfo(key=obj.object_name, size=obj.size or 0, modified=obj.last_modified)

    def delete(self, keys: Sequence[str]) -> None:
        # remove_objects is lazy: iterating its errors is what sends the requests.
        errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        if errors:
            raise RuntimeError(f"failed to delete {len(errors)} objects, first: {errors[0]}")

    def presigned_get_url(self, key: str, expires_s: int) -> str:
        return self.signer.presigned_get_object(self.bucket, key, expires=timedelta(seconds=expires_s))

    def presigned_put_url(self, key: str, expires_s: int) -> str:
        return self.signer.presigned_put_object(self.bucket, key, expires=timedelta(seconds=expires_s))

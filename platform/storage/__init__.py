"""Object storage: one interface, a local-folder and an S3 implementation chosen by settings."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from sanacloud.platform.settings import Settings, get_settings
from sanacloud.platform.storage.base import ObjectInfo, ObjectNotFound, ObjectStore


def make_object_store(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "local":
        from sanacloud.platform.storage.local import LocalObjectStore

        return LocalObjectStore(settings.objects_dir, settings.public_url, settings.effective_secret_key)
    if settings.storage_backend == "s3":
        from minio import Minio

        from sanacloud.platform.storage.s3 import S3ObjectStore

        def client_at(endpoint: str, secure: bool) -> Minio:
            return Minio(endpoint, access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                         secure=secure, region=settings.s3_region)

        client = client_at(settings.s3_endpoint, settings.s3_secure)
        public = urlsplit(settings.s3_public_url)
        # Signing is offline (the region is given): this client only makes the URLs handed to users.
        signer = client_at(public.netloc, public.scheme == "https") if settings.s3_public_url else client
        store = S3ObjectStore(client, settings.s3_bucket, signer=signer)
        store.ensure_bucket()
        return store
    raise ValueError(f"unknown storage backend {settings.storage_backend!r}; use 'local' or 's3'")


@lru_cache
def get_object_store() -> ObjectStore:
    return make_object_store(get_settings())


__all__ = ["ObjectInfo", "ObjectNotFound", "ObjectStore", "get_object_store", "make_object_store"]

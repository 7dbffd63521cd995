"""The object stores' contract, run against both: a local folder, and S3 (moto's server on loopback).

moto does not check request signatures, so the S3 presigned-URL tests only show that the URLs
point at the right object and method; their security is S3's (and, for the local store, the
API's: tests/api/test_objects.py).
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from pathlib import Path

import httpx
import pytest
from minio import Minio

from sanacloud.platform.security import object_signature_problem
from sanacloud.platform.storage import ObjectInfo, ObjectNotFound, ObjectStore
from sanacloud.platform.storage.keys import tenant_prefix
from sanacloud.platform.storage.local import LocalObjectStore
from sanacloud.platform.storage.s3 import PART_SIZE, S3ObjectStore

MiB = 1024 * 1024
SECRET = "storage-test-secret"
PUBLIC_URL = "http://testserver"


class GeneratedStream(io.RawIOBase):
    """`size` deterministic pseudo-random bytes made on demand, so a large stream never sits in memory.

    Its length is not known to the reader (no `len`, no `seek`). `sha256` is the digest of what
    was read; with `fail_after`, reading past that many bytes raises OSError, like a dropped upload.
    """

    def __init__(self, size: int, *, seed: int = 0, fail_after: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._left = size
        self._pending = b""
        self._fail_after = fail_after
        self.read_bytes = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending and self._left:
            self._pending = self._rng.randbytes(min(MiB, self._left))
            self._left -= len(self._pending)
        n = min(len(buffer), len(self._pending))
        if self._fail_after is not None and self.read_bytes + n > self._fail_after:
            raise OSError("client went away mid-upload")
        buffer[:n] = self._pending[:n]
        self.sha256.update(self._pending[:n])
        self._pending = self._pending[n:]
        self.read_bytes += n
        return n


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects", PUBLIC_URL, SECRET)
    endpoint = request.getfixturevalue("s3_server")
    client = Minio(endpoint, access_key="testing", secret_key="testing-secret", secure=False)
    s3 = S3ObjectStore(client, f"storage-test-{uuid.uuid4().hex[:12]}")
    s3.ensure_bucket()
    return s3


@pytest.fixture
def local(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects", PUBLIC_URL, SECRET)


@pytest.fixture
def s3(s3_server: str) -> S3ObjectStore:
    client = Minio(s3_server, access_key="testing", secret_key="testing-secret", secure=False)
    store = S3ObjectStore(client, f"storage-test-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    return store


def keys(store: ObjectStore, prefix: str = "") -> list[str]:
    return sorted(info.key for info in store.list(prefix))


# --- both stores ------------------------------------------------------------------------------

def test_put_and_read_round_trip(store: ObjectStore) -> None:
    data = bytes(range(256)) * 40 + b"tail"
    info = store.put("tenants/ten_a/datasets/d1/img.png", io.BytesIO(data), len(data), "image/png")
    assert info == ObjectInfo(key="tenants/ten_a/datasets/d1/img.png", size=len(data))
    assert store.stat("tenants/ten_a/datasets/d1/img.png") == info
    assert store.read_bytes("tenants/ten_a/datasets/d1/img.png") == data


def test_put_bytes_of_an_empty_object(store: ObjectStore) -> None:
    assert store.put_bytes("tenants/ten_a/empty", b"") == ObjectInfo("tenants/ten_a/empty", 0)
    assert store.stat("tenants/ten_a/empty").size == 0
    assert store.read_bytes("tenants/ten_a/empty") == b""


def test_put_overwrites(store: ObjectStore) -> None:
    store.put_bytes("tenants/ten_a/k", b"first version, longer")
    store.put_bytes("tenants/ten_a/k", b"second")
    assert store.read_bytes("tenants/ten_a/k") == b"second"
    assert store.stat("tenants/ten_a/k").size == 6
    assert keys(store) == ["tenants/ten_a/k"]


def test_streaming_put_of_unknown_length_larger_than_one_part(store: ObjectStore) -> None:
    size = PART_SIZE + 4 * MiB + 123  # two S3 parts, the last one short
    stream = GeneratedStream(size, seed=7)
    info = store.put("tenants/ten_a/checkpoints/big.bin", stream, length=None)
    assert stream.read_bytes == size
    assert info == ObjectInfo("tenants/ten_a/checkpoints/big.bin", size)
    assert store.stat("tenants/ten_a/checkpoints/big.bin").size == size
    digest = hashlib.sha256()
    stored = 0
    for chunk in store.open("tenants/ten_a/checkpoints/big.bin"):
        digest.update(chunk)
        stored += len(chunk)
    assert stored == size
    assert digest.hexdigest() == stream.sha256.hexdigest()


def test_open_yields_chunks(store: ObjectStore) -> None:
    data = random.Random(1).randbytes(2 * MiB + 500)
    store.put_bytes("tenants/ten_a/blob", data)
    chunks = list(store.open("tenants/ten_a/blob"))
    assert len(chunks) >= 3
    assert all(isinstance(chunk, bytes) and 0 < len(chunk) <= MiB for chunk in chunks)
    assert b"".join(chunks) == data


def test_missing_key(store: ObjectStore) -> None:
    store.put_bytes("tenants/ten_a/present", b"x")
    for key in ("tenants/ten_a/absent", "tenants/ten_a", "tenants/ten_b/present"):
        with pytest.raises(ObjectNotFound):
            store.stat(key)
        with pytest.raises(ObjectNotFound):
            store.open(key)
        assert not store.exists(key)
    assert issubclass(ObjectNotFound, KeyError)


def test_exists(store: ObjectStore) -> None:
    assert not store.exists("tenants/ten_a/x")
    store.put_bytes("tenants/ten_a/x", b"1")
    assert store.exists("tenants/ten_a/x")
    assert not store.exists("tenants/ten_a/x2")
    store.delete(["tenants/ten_a/x"])
    assert not store.exists("tenants/ten_a/x")


def test_list_is_recursive_and_prefix_exact(store: ObjectStore) -> None:
    store.put_bytes("tenants/ten_a/x", b"1")
    store.put_bytes("tenants/ten_a/sub/deeper/y", b"22")
    store.put_bytes("tenants/ten_ab/z", b"333")
    store.put_bytes("other/w", b"4444")
    assert sorted(store.list("tenants/ten_a/"), key=lambda i: i.key) == [
        ObjectInfo("tenants/ten_a/sub/deeper/y", 2), ObjectInfo("tenants/ten_a/x", 1)]
    assert keys(store, tenant_prefix("ten_ab")) == ["tenants/ten_ab/z"]
    assert keys(store, "tenants/") == ["tenants/ten_a/sub/deeper/y", "tenants/ten_a/x", "tenants/ten_ab/z"]
    assert keys(store, "tenants/ten_a/sub/") == ["tenants/ten_a/sub/deeper/y"]
    assert keys(store, "") == ["other/w", "tenants/ten_a/sub/deeper/y", "tenants/ten_a/x", "tenants/ten_ab/z"]
    assert keys(store, "nothing/") == []


def test_delete_of_missing_keys_is_not_an_error(store: ObjectStore) -> None:
    store.delete([])
    store.delete(["tenants/ten_a/never", "nowhere/at/all"])
    store.put_bytes("tenants/ten_a/here", b"1")
    store.put_bytes("tenants/ten_a/stays", b"2")
    store.delete(["tenants/ten_a/here", "tenants/ten_a/never"])
    store.delete(["tenants/ten_a/here"])  # twice
    assert keys(store) == ["tenants/ten_a/stays"]


def test_delete_prefix_removes_only_that_prefix(store: ObjectStore) -> None:
    for key in ("tenants/ten_a/x", "tenants/ten_a/sub/y", "tenants/ten_ab/z", "other/w"):
        store.put_bytes(key, b"data")
    assert store.delete_prefix("tenants/ten_a/") == 2
    assert keys(store) == ["other/w", "tenants/ten_ab/z"]
    assert store.delete_prefix("tenants/ten_a/") == 0
    assert store.delete_prefix("") == 2
    assert keys(store) == []


@pytest.mark.parametrize("fail_after", [100_000, PART_SIZE + MiB], ids=["first-part", "second-part"])
def test_failed_put_leaves_the_old_object_and_nothing_else(store: ObjectStore, fail_after: int) -> None:
    store.put_bytes("tenants/ten_a/k", b"old")
    with pytest.raises(OSError, match="went away"):
        store.put("tenants/ten_a/k", GeneratedStream(PART_SIZE * 2, fail_after=fail_after), length=None)
    with pytest.raises(OSError, match="went away"):
        store.put("tenants/ten_a/new", GeneratedStream(PART_SIZE * 2, fail_after=fail_after), length=None)
    assert store.read_bytes("tenants/ten_a/k") == b"old"
    assert not store.exists("tenants/ten_a/new")
    assert keys(store) == ["tenants/ten_a/k"]


def test_key_below_an_existing_object_is_missing(store: ObjectStore) -> None:
    """S3 keys are flat strings: "a/b" does not exist just because "a" does, and deleting it is a no-op."""
    store.put_bytes("tenants/ten_a/obj", b"x")
    with pytest.raises(ObjectNotFound):
        store.stat("tenants/ten_a/obj/child")
    with pytest.raises(ObjectNotFound):
        store.open("tenants/ten_a/obj/child")
    store.delete(["tenants/ten_a/obj/child"])
    assert keys(store) == ["tenants/ten_a/obj"]


# --- the local store --------------------------------------------------------------------------

def test_local_failed_put_leaves_no_object_and_no_temp_file(local: LocalObjectStore) -> None:
    with pytest.raises(OSError, match="went away"):
        local.put("tenants/ten_a/new/x", GeneratedStream(3 * MiB, fail_after=2 * MiB), length=None)
    assert not local.exists("tenants/ten_a/new/x")
    assert [p for p in local.root.rglob("*") if p.is_file()] == []


def test_local_failed_put_leaves_no_empty_folders(local: LocalObjectStore) -> None:
    with pytest.raises(OSError, match="went away"):
        local.put("tenants/ten_a/new/x", GeneratedStream(MiB, fail_after=1000), length=None)
    assert list(local.root.iterdir()) == []


def test_local_list_hides_uploads_in_progress(local: LocalObjectStore) -> None:
    local.put_bytes("tenants/ten_a/x", b"1")
    (local.root / "tenants" / "ten_a" / ".upload-abc123").write_bytes(b"partial")
    assert keys(local) == ["tenants/ten_a/x"]


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../x", "tenants/../../x", "", ".", "a/.."])
def test_local_refuses_keys_outside_the_root(local: LocalObjectStore, key: str) -> None:
    operations = [
        lambda: local.put_bytes(key, b"x"),
        lambda: local.stat(key),
        lambda: local.open(key),
        lambda: local.delete([key]),
        lambda: local.presigned_get_url(key, 60),
        lambda: local.presigned_put_url(key, 60),
    ]
    for operation in operations:
        with pytest.raises(ValueError, match="outside the store"):
            operation()
    assert not (local.root.parent / "x").exists()


def test_local_prunes_empty_folders_after_delete(local: LocalObjectStore) -> None:
    local.put_bytes("tenants/ten_a/datasets/d1/a.png", b"1")
    local.put_bytes("tenants/ten_a/datasets/d2/b.png", b"2")
    local.delete(["tenants/ten_a/datasets/d1/a.png"])
    assert not (local.root / "tenants/ten_a/datasets/d1").exists()
    assert (local.root / "tenants/ten_a/datasets/d2/b.png").is_file()
    local.delete_prefix("tenants/")
    assert local.root.is_dir()  # the root itself stays
    assert list(local.root.iterdir()) == []


def test_local_presigned_urls_point_at_the_api(local: LocalObjectStore) -> None:
    url = httpx.URL(local.presigned_get_url("tenants/ten_a/a b.png", 60))
    assert (url.scheme, url.host, url.path) == ("http", "testserver", "/v1/objects/tenants/ten_a/a b.png")
    assert url.raw_path.startswith(b"/v1/objects/tenants/ten_a/a%20b.png?")
    params = url.params
    key = "tenants/ten_a/a b.png"
    assert object_signature_problem(SECRET, "GET", key, params["expires"], params["signature"]) is None
    wrong_method = object_signature_problem(SECRET, "PUT", key, params["expires"], params["signature"])
    assert wrong_method is not None and "invalid for PUT" in wrong_method
    put = httpx.URL(local.presigned_put_url(key, 60)).params
    assert object_signature_problem(SECRET, "PUT", key, put["expires"], put["signature"]) is None


# --- the S3 store -----------------------------------------------------------------------------
# moto does not verify presigned signatures or expiry: these show that the URLs name the right
# bucket, key and method, not that S3 would refuse a forged one.

def test_s3_presigned_get_url_serves_the_bytes(s3: S3ObjectStore) -> None:
    data = random.Random(3).randbytes(300_000)
    s3.put_bytes("tenants/ten_a/samples/step-100.png", data, "image/png")
    response = httpx.get(s3.presigned_get_url("tenants/ten_a/samples/step-100.png", 600), timeout=30)
    assert response.status_code == 200
    assert response.content == data


def test_s3_presigned_put_url_stores_the_body(s3: S3ObjectStore) -> None:
    data = b"uploaded straight to S3 " * 1000
    url = s3.presigned_put_url("tenants/ten_a/uploads/u1.bin", 600)
    response = httpx.put(url, content=data, timeout=30)
    assert response.status_code == 200, response.text
    assert s3.stat("tenants/ten_a/uploads/u1.bin").size == len(data)
    assert s3.read_bytes("tenants/ten_a/uploads/u1.bin") == data

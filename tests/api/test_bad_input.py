"""A corpus of bad requests: each gets a 4xx problem whose message names the problem, and leaves
no rows and no objects behind."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sanacloud.platform.db.models import Base
from sanacloud.platform.db.session import session_scope
from tests.helpers.api import ready_dataset
from tests.helpers.backends import TenantCtx, object_keys
from tests.helpers.image_modes import REFUSED
from tests.helpers.images import jpeg, multipart_body, png, png_with_text, zip_of


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming 900 megapixels, with a tiny (truncated) body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(
        b"IEND", b"")


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link.png")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
        archive.writestr("ok.png", png())
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    expect_status: int
    says: str  # a fragment the problem's detail must contain (case-insensitive)
    upload: list[tuple[str, bytes]] | None = None  # files for the dataset upload route
    job: dict[str, Any] | None = None  # a job body; "$dataset" is replaced by a ready dataset's id
    request: tuple[str, str, dict[str, Any]] | None = None  # any other request
    query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


UPLOADS = [
    Case("corrupt png", 422, "bad.png", upload=[("bad.png", b"\x89PNG\r\n\x1a\n garbage")]),
    Case("truncated png", 422, "truncated", upload=[("cut.png", png(200, 200)[:-40])]),
    Case("truncated jpeg", 422, "cut.jpg", upload=[("cut.jpg", jpeg(256, 256)[:300])]),
    Case("decompression bomb", 422, "decompression bomb", upload=[("bomb.png", bomb_png())]),
    Case("text file named .png", 422, "not an image", upload=[("fake.png", b"hello, I am text")]),
    Case("executable", 422, "not an image", upload=[("tool.exe", b"MZ\x90\x00" * 10)]),
    Case("pdf", 422, "not an image", upload=[("doc.pdf", b"%PDF-1.4\n%\xe2\xe3")]),
    Case("zip slip", 422, "..", upload=[("evil.zip", zip_of({"../../evil.png": png()}))]),
    Case("absolute zip entry", 422, "/etc/evil.png", upload=[("abs.zip", zip_of({"/etc/evil.png": png()}))]),
    Case("symlink zip entry", 422, "link.png", upload=[("links.zip", symlink_zip())]),
    Case("empty zip", 422, "no images", upload=[("empty.zip", zip_of({}))]),
    Case("not a zip", 422, "zip", upload=[("broken.zip", b"PK\x03\x04 but not really")]),
    Case("nested zip only", 422, "inner.zip", upload=[("outer.zip", zip_of({"inner.zip": zip_of({"a.png": png()})}))]),
    Case("captions only", 422, "no images", upload=[("a.txt", b"a caption without an image")]),
    Case("image too small", 422, "too small", upload=[("tiny.png", png(8, 8))]),
    Case("image too large", 422, "large", upload=[("wide.png", png(9000, 40))]),
    Case("oversized file", 413, "huge.png", upload=[("huge.png", b"\x89PNG" + b"\0" * 300_000)],
         extra={"max_file_bytes": 200_000}),
    Case("oversized request", 413, "upload limit", upload=[("a.png", b"\0" * 1_400_000)],  # past the framing margin
         extra={"max_upload_bytes": 100_000}),
    Case("too many files", 413, "files", upload=[(f"{i}.png", png()) for i in range(4)],
         extra={"max_files_per_upload": 3}),
    Case("bad metadata.jsonl", 422, "line 1", upload=[("a.png", png()), ("metadata.jsonl", b"{not json")]),
    Case("mixed good and bad, reject mode", 422, "nothing was stored",
         upload=[("good.png", png()), ("bad.png", b"junk")]),
    Case("duplicate names", 422, "a.png", upload=[("a.png", png()), ("a.png", png())]),
    Case("unknown on_invalid", 422, "on_invalid", upload=[("a.png", png())], query="?on_invalid=maybe"),
    Case("floating-point image", 422, "no standard display mapping", upload=[("depth.tiff", REFUSED[0].data)]),
    Case("too much metadata", 422, "too much metadata: 2,000,008 bytes (PNG text 'Comment'",
         upload=[("notes.png", png_with_text("Comment", 2_000_000))]),
]

JOBS = [
    Case("unknown base model", 422, "unknown base model", job={"base_model": "sdxl"}),
    Case("missing dataset", 404, "does not exist", job={"dataset_id": "ds_doesnotexist"}),
    Case("unknown field", 422, "unknown field 'learning_rat'", job={"hyperparameters": {"learning_rat": 1e-4}}),
    Case("unknown top-level field", 422, "unknown field 'colour'", job={"colour": "red"}),
    Case("wrong type", 422, "steps", job={"hyperparameters": {"steps": "many"}}),
    Case("negative learning rate", 422, "learning_rate", job={"hyperparameters": {"learning_rate": -1}}),
    Case("zero steps", 422, "steps", job={"hyperparameters": {"steps": 0}}),
    Case("steps and epochs", 422, "either steps or epochs", job={"hyperparameters": {"steps": 10, "epochs": 2}}),
    Case("unsupported resolution", 422, "resolution 512", job={"hyperparameters": {"resolution": 512}}),
    Case("lora rank too big", 422, "rank", job={"lora": {"rank": 128}}),
    Case("lora rank zero", 422, "rank", job={"lora": {"rank": 0}}),
    Case("depthwise conv target", 422, "targets", job={"lora": {"targets": ["conv_depth"]}}),
    Case("unknown job type", 422, "type", job={"type": "dreambooth"}),
    Case("missing type", 422, "type", job={"type": None}),
    Case("checkpoint interval past the end", 422, "checkpoint_interval",
         job={"hyperparameters": {"steps": 10, "checkpoint_interval": 50}}),
    Case("fp16 on a cpu pool", 422, "needs a gpu", job={"pool": "cpu", "hyperparameters": {"mixed_precision": "fp16"}}),
    Case("more gpus than the quota", 422, "quota", job={"gpus": 3}),
    Case("more gpus than the pool", 422, "has only", job={"gpus": 9}),
    Case("unknown pool", 422, "unknown gpu pool", job={"pool": "tpu"}),
    Case("too many validation prompts", 422, "validation_prompts",
         job={"hyperparameters": {"validation_prompts": ["x"] * 17}}),
    Case("empty validation prompt", 422, "validation_prompts", job={"hyperparameters": {"validation_prompts": [" "]}}),
    Case("priority out of range", 422, "priority", job={"priority": 1000}),
    Case("idempotency key too long", 422, "idempotency-key", job={}, extra={"idempotency_key": "k" * 300}),
    Case("body is not json", 422, "json", request=("POST", "/v1/jobs", {
        "content": b"{oops", "headers": {"content-type": "application/json"}})),
]

OTHER = [
    Case("dataset unknown field", 422, "unknown field 'tags'", request=("POST", "/v1/datasets",
                                                                       {"json": {"name": "x", "tags": []}})),
    Case("dataset empty name", 422, "name", request=("POST", "/v1/datasets", {"json": {"name": "  "}})),
    Case("dataset name wrong type", 422, "name", request=("POST", "/v1/datasets", {"json": {"name": 5}})),
    Case("upload to a missing dataset", 404, "does not exist",
         request=("POST", "/v1/datasets/ds_missing/files", {"files": [("files", ("a.png", png()))]})),
    Case("upload as json", 422, "multipart", request=("POST", "/v1/datasets/$dataset/files", {"json": {}})),
    Case("multipart body without its closing boundary", 422, "truncated", request=(
        "POST", "/v1/datasets/$dataset/files", {"content": multipart_body({"a.png": png()}, closed=False),
                                                "headers": {"content-type": "multipart/form-data; boundary=XyZ"}})),
    Case("upload with an unknown form field", 422, "unknown form field",
         request=("POST", "/v1/datasets/$dataset/files", {"files": [("files", ("a.png", png()))],
                                                          "data": {"colour": "red"}})),
    Case("page limit too large", 422, "limit", request=("GET", "/v1/datasets?limit=100000", {})),
    Case("unknown job status filter", 422, "status", request=("GET", "/v1/jobs?status=exploded", {})),
]


def row_counts() -> dict[str, int]:
    with session_scope() as session:
        return {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables}


@pytest.fixture
def settings_override(client: TestClient) -> Callable[[dict[str, Any]], None]:
    from sanacloud.platform.settings import Settings, get_settings

    def apply(changes: dict[str, Any]) -> None:
        if not changes:
            return
        settings = get_settings().model_copy(update=changes)
        client.app.dependency_overrides[get_settings] = lambda: settings  # type: ignore[attr-defined]
        if "max_upload_bytes" in changes:  # the body limit is middleware, built with the app
            from sanacloud.api.limits import BodySizeLimit

            for middleware in client.app.user_middleware:  # type: ignore[attr-defined]
                if middleware.cls is BodySizeLimit:
                    middleware.kwargs["max_upload_bytes"] = changes["max_upload_bytes"]
            client.app.middleware_stack = None  # type: ignore[attr-defined]
        assert isinstance(settings, Settings)

    return apply


@pytest.mark.parametrize("case", UPLOADS + JOBS + OTHER, ids=lambda c: c.name)
def test_bad_input_is_refused_cleanly(client: TestClient, tenant: TenantCtx, case: Case,
                                      settings_override: Callable[[dict[str, Any]], None]) -> None:
    dataset_id = ready_dataset(client, tenant, images=2)
    _add_cpu_pool(tenant)
    settings_override({k: v for k, v in case.extra.items() if k != "idempotency_key"})
    rows, objects = row_counts(), object_keys()

    response = _send(client, tenant, case, dataset_id)

    assert response.status_code == case.expect_status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == case.expect_status and problem["title"]
    message = (problem["detail"] + " " + " ".join(e["msg"] for e in problem.get("errors", []))).lower()
    assert case.says.lower() in message, problem
    assert row_counts() == rows, "a refused request left rows behind"
    assert object_keys() == objects, "a refused request left objects behind"


def _send(client: TestClient, tenant: TenantCtx, case: Case, dataset_id: str) -> Any:
    if case.upload is not None:
        files = [("files", (name, data)) for name, data in case.upload]
        return client.post(f"/v1/datasets/{dataset_id}/files{case.query}", files=files, headers=tenant.headers)
    if case.job is not None:
        body = {"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny", **case.job}
        body = {k: v for k, v in body.items() if v is not None}
        headers = dict(tenant.headers)
        if "idempotency_key" in case.extra:
            headers["Idempotency-Key"] = case.extra["idempotency_key"]
        return client.post("/v1/jobs", json=body, headers=headers)
    assert case.request is not None
    method, url, kwargs = case.request
    options = {k: v for k, v in kwargs.items() if k != "headers"}
    headers = {**tenant.headers, **kwargs.get("headers", {})}
    return client.request(method, url.replace("$dataset", dataset_id), headers=headers, **options)


def _add_cpu_pool(tenant: TenantCtx) -> None:
    from sanacloud.platform import accounts

    with session_scope() as session:
        pool = accounts.upsert_pool(session, name="cpu", gpu_type="cpu", capacity_gpus=2)
        accounts.set_quota(session, tenant_id=tenant.id, pool=pool, nominal_gpus=1, borrowing_limit_gpus=0)


def test_corpus_is_large_enough() -> None:
    assert len(UPLOADS + JOBS + OTHER) >= 25

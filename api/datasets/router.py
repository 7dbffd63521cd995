from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from sanacloud.api.datasets import captioning, schemas, service
from sanacloud.api.datasets.multipart import read_form
from sanacloud.api.deps import SessionDep, SettingsDep, StoreDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.jobs.schemas import JobOut
from sanacloud.api.jobs.service import job_out
from sanacloud.api.pagination import PageDep, to_page
from sanacloud.api.schemas import Page
from sanacloud.platform import scratch
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.datasets.upload import IncomingFile
from sanacloud.platform.errors import DomainError, InvalidInput, PayloadTooLarge
from sanacloud.platform.settings import get_settings


@asynccontextmanager
async def _remove_dead_uploads(_app: FastAPI) -> AsyncIterator[None]:
    """At start, the temporary files of uploads whose API process was killed (platform/scratch.py)."""
    scratch.remove_dead(get_settings())
    yield


router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=AUTHENTICATED, lifespan=_remove_dead_uploads)
FILE_FIELDS = {"files", "file"}


@router.post("", status_code=201, responses=problems(409))
def datasets_create(body: schemas.DatasetCreate, session: SessionDep, actor: TenantDep) -> schemas.DatasetOut:
    return schemas.DatasetOut.model_validate(service.create(session, actor=actor, body=body))


@router.get("")
def datasets_list(session: SessionDep, actor: TenantDep, page: PageDep) -> Page[schemas.DatasetOut]:
    rows, cursor = service.list_datasets(session, actor=actor, params=page)
    return to_page(rows, cursor, schemas.DatasetOut)


@router.get("/{dataset_id}")
def datasets_get(dataset_id: str, session: SessionDep, actor: TenantDep) -> schemas.DatasetDetail:
    dataset = service.get(session, actor=actor, dataset_id=dataset_id)
    base = schemas.DatasetOut.model_validate(dataset).model_dump()
    return schemas.DatasetDetail(**base, stats=service.stats(session, dataset=dataset), report=dataset.report)


@router.patch("/{dataset_id}")
def datasets_update(dataset_id: str, body: schemas.DatasetUpdate, session: SessionDep,
                    actor: TenantDep) -> schemas.DatasetOut:
    return schemas.DatasetOut.model_validate(service.update(session, actor=actor, dataset_id=dataset_id, body=body))


@router.delete("/{dataset_id}", status_code=204, responses=problems(409))
def datasets_delete(dataset_id: str, session: SessionDep, store: StoreDep, actor: TenantDep) -> Response:
    service.delete(session, store, actor=actor, dataset_id=dataset_id)
    return Response(status_code=204)


@router.post("/{dataset_id}/files", status_code=201, responses=problems(409), openapi_extra={
    "requestBody": {"content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": "images, .txt caption sidecars, a metadata.jsonl, or .zip archives"}},
    }}}, "required": True}})
async def datasets_upload_files(
    dataset_id: str, request: Request, session: SessionDep, store: StoreDep, settings: SettingsDep, actor: TenantDep,
    on_invalid: Annotated[service.OnInvalid, Query(description="reject: any invalid image refuses the upload; "
                                                               "skip: store the valid ones")] = "reject",
) -> schemas.UploadReport:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("upload files as multipart/form-data in the field 'files'")
    try:
        form = await read_form(request, max_files=settings.max_files_per_upload, max_fields=20)
    except MultiPartException as error:
        raise _form_problem(error.message, settings.max_files_per_upload) from None
    try:
        unknown = sorted(set(form.keys()) - FILE_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown form field(s) {', '.join(unknown)}; send files in the field 'files'")
        files = [_incoming(part) for field in FILE_FIELDS for part in form.getlist(field)]
        return await run_in_threadpool(service.upload, session, store, settings, actor=actor, dataset_id=dataset_id,
                                       files=files, on_invalid=on_invalid)
    finally:
        await form.close()


def _form_problem(message: str, max_files: int) -> DomainError:
    if "Too many files" in message:
        return PayloadTooLarge(f"too many files in one upload: the limit is {max_files} "
                               "(SANACLOUD_MAX_FILES_PER_UPLOAD); split the upload or send a .zip")
    return InvalidInput(f"the multipart body cannot be read: {message}")


def _incoming(part: UploadFile | str) -> IncomingFile:
    if isinstance(part, str):
        raise InvalidInput("the field 'files' must hold files, not text")
    return IncomingFile(filename=part.filename or "", stream=part.file, size=part.size or 0)


@router.get("/{dataset_id}/files")
def datasets_list_files(dataset_id: str, session: SessionDep, store: StoreDep, settings: SettingsDep, actor: TenantDep,
                        page: PageDep) -> Page[schemas.DatasetFileOut]:
    rows, cursor = service.list_files(session, actor=actor, dataset_id=dataset_id, params=page)
    written = auto_captions.by_file(session, [row.id for row in rows])
    items = [schemas.DatasetFileOut.model_validate(
        {**_columns(row), "url": store.presigned_get_url(row.object_key, settings.presign_ttl_s),
         "captions": [schemas.CaptionOut.model_validate(c) for c in written.get(row.id, [])]}) for row in rows]
    return Page[schemas.DatasetFileOut](items=items, next_cursor=cursor)


def _columns(row: object) -> dict[str, object]:
    return {c: getattr(row, c) for c in schemas.DatasetFileOut.model_fields if c not in ("url", "captions")}


@router.delete("/{dataset_id}/files/{file_id}", status_code=204)
def datasets_delete_file(dataset_id: str, file_id: str, session: SessionDep, store: StoreDep,
                         actor: TenantDep) -> Response:
    service.delete_file(session, store, actor=actor, dataset_id=dataset_id, file_id=file_id)
    return Response(status_code=204)


@router.post("/{dataset_id}/captions", status_code=201, responses={
    200: {"model": JobOut, "description": "an Idempotency-Key replay: the job it created"}, **problems(404)})
def datasets_caption(
    dataset_id: str, body: schemas.CaptioningCreate, response: Response, session: SessionDep, settings: SettingsDep,
    actor: TenantDep,
    idempotency_key: Annotated[str | None, Header(description="retry-safe submission: the same key and body "
                                                              "return the job first created")] = None,
) -> JobOut:
    """Caption every image with each captioner and score each caption (yours too), as a job on the
    pool's GPUs: its events show progress; the captions appear in the dataset's files and report."""
    job, created = captioning.start(session, settings, actor=actor, dataset_id=dataset_id, body=body,
                                    idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_out(session, job)

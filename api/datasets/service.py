"""Datasets: create, upload (validated, all-or-nothing by default), list, inspect, delete."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sanacloud.api.datasets import schemas
from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform import scratch, tenant_caps
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.datasets.intake import IntakeResult, read_upload
from sanacloud.platform.datasets.upload import IncomingFile, IntakeLimits
from sanacloud.platform.db.base import new_id, utcnow
from sanacloud.platform.db.hooks import on_commit, on_rollback
from sanacloud.platform.db.models import Dataset, DatasetCaption, DatasetFile, Job
from sanacloud.platform.db.scoped import get_owned
from sanacloud.platform.errors import Conflict, InvalidInput, NotFound
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.jobs.status import TERMINAL
from sanacloud.platform.settings import Settings
from sanacloud.platform.storage import ObjectStore, keys

OnInvalid = Literal["reject", "skip"]
REPORTS_KEPT = 20
REJECTIONS_KEPT = 100  # per upload in the dataset's report; the upload's own response lists them all


def create(session: Session, *, actor: TenantPrincipal, body: schemas.DatasetCreate) -> Dataset:
    tenant_caps.ensure_room(session, tenant_id=actor.tenant_id, kind=tenant_caps.Kind.DATASETS)
    dataset = Dataset(tenant_id=actor.tenant_id, name=body.name, description=body.description, report={"uploads": []})
    session.add(dataset)
    session.flush()
    return dataset


def get(session: Session, *, actor: TenantPrincipal, dataset_id: str, for_update: bool = False) -> Dataset:
    return get_owned(session, Dataset, dataset_id, tenant_id=actor.tenant_id, kind="dataset", for_update=for_update)


def list_datasets(session: Session, *, actor: TenantPrincipal, params: PageParams) -> tuple[list[Dataset], str | None]:
    rows, cursor = paginate(session, select(Dataset).where(Dataset.tenant_id == actor.tenant_id), Dataset.id, params)
    return list(rows), cursor


def update(session: Session, *, actor: TenantPrincipal, dataset_id: str, body: schemas.DatasetUpdate) -> Dataset:
    dataset = get(session, actor=actor, dataset_id=dataset_id)
    for field, value in body.model_dump(exclude_none=True).items():
        setattr(dataset, field, value)
    dataset.updated_at = utcnow()
    return dataset


def delete(session: Session, store: ObjectStore, *, actor: TenantPrincipal, dataset_id: str) -> None:
    dataset = get(session, actor=actor, dataset_id=dataset_id, for_update=True)
    unfinished = session.execute(select(Job.id, Job.dataset_id, Job.requested).where(
        Job.tenant_id == actor.tenant_id, Job.status.not_in(TERMINAL))).all()
    active = [job_id for job_id, trained_on, requested in unfinished
              if dataset.id in (trained_on, lifecycle.class_dataset_id(requested))]
    if active:
        raise Conflict(f"dataset {dataset.id!r} is used by unfinished jobs {', '.join(active)}; cancel them first")
    session.delete(dataset)
    prefix = keys.dataset_prefix(actor.tenant_id, dataset.id)
    on_commit(session, lambda: store.delete_prefix(prefix))


def stats(session: Session, *, dataset: Dataset) -> schemas.DatasetStats:
    in_dataset = DatasetFile.dataset_id == dataset.id
    row = session.execute(select(
        func.count().filter(DatasetFile.caption != ""), func.count().filter(DatasetFile.caption == ""),
        func.min(DatasetFile.width), func.max(DatasetFile.width),
        func.min(DatasetFile.height), func.max(DatasetFile.height),
    ).where(in_dataset)).one()
    formats = session.execute(select(DatasetFile.format, func.count()).where(in_dataset).group_by(DatasetFile.format))
    by_source = session.execute(select(DatasetCaption.source, func.count()).where(
        DatasetCaption.dataset_id == dataset.id).group_by(DatasetCaption.source)).all()
    auto = session.scalar(select(func.count(func.distinct(DatasetCaption.file_id))).where(
        DatasetCaption.dataset_id == dataset.id, DatasetCaption.source != auto_captions.USER))
    return schemas.DatasetStats(captioned=row[0], uncaptioned=row[1], min_width=row[2], max_width=row[3],
                                min_height=row[4], max_height=row[5], formats={fmt: count for fmt, count in formats},
                                auto_captioned=auto or 0,
                                captions_by_source={source: count for source, count in by_source})


def limits(settings: Settings) -> IntakeLimits:
    return IntakeLimits(
        max_file_bytes=settings.max_file_bytes, max_total_bytes=settings.max_upload_bytes,
        max_files=settings.max_files_per_upload, max_image_pixels=settings.max_image_pixels,
        min_image_side=settings.min_image_side, max_image_side=settings.max_image_side,
        max_caption_chars=settings.max_caption_chars, max_image_metadata_bytes=settings.max_image_metadata_bytes,
    )


def upload(session: Session, store: ObjectStore, settings: Settings, *, actor: TenantPrincipal, dataset_id: str,
           files: list[IncomingFile], on_invalid: OnInvalid) -> schemas.UploadReport:
    """Validate every file, then store all valid images and their rows, or nothing at all.

    With on_invalid="reject" (the default) one invalid image refuses the whole upload; with
    "skip" the valid images are stored and the invalid ones listed in the report.
    """
    dataset = get(session, actor=actor, dataset_id=dataset_id, for_update=True)
    if not files:
        raise InvalidInput("no files in the upload: send images, caption files or a .zip as multipart field 'files'")
    with scratch.upload_dir(settings) as workdir:
        result = read_upload(files, limits(settings), workdir)
        _refuse_invalid(result, on_invalid)
        _refuse_existing_names(session, dataset, result)
        _store_images(session, store, dataset, result)
    summary = {  # kept REPORTS_KEPT times in the dataset's row and shown with it: bounded
        "at": utcnow().isoformat(), "accepted": len(result.images), "on_invalid": on_invalid,
        "rejected": [{"name": r.name, "reason": r.reason} for r in result.rejected[:REJECTIONS_KEPT]],
        "rejected_count": len(result.rejected), "warnings": result.warnings,
    }
    dataset.report = {"uploads": [*dataset.report.get("uploads", []), summary][-REPORTS_KEPT:]}
    return schemas.UploadReport(
        accepted=len(result.images), accepted_bytes=sum(i.size_bytes for i in result.images),
        rejected=[schemas.Rejected(name=r.name, reason=r.reason) for r in result.rejected],
        warnings=result.warnings, on_invalid=on_invalid, dataset=schemas.DatasetOut.model_validate(dataset),
    )


def _refuse_invalid(result: IntakeResult, on_invalid: OnInvalid) -> None:
    errors = [{"loc": r.name, "msg": r.reason} for r in result.rejected]
    if result.rejected and on_invalid == "reject":
        first = result.rejected[0]
        raise InvalidInput(
            f"{len(result.rejected)} file(s) are invalid, nothing was stored (first: {first.name!r}: {first.reason}); "
            "fix them, or upload with ?on_invalid=skip to store only the valid images", errors=errors)
    if not result.images:
        raise InvalidInput("the upload contains no valid images; nothing was stored", errors=errors)


def _refuse_existing_names(session: Session, dataset: Dataset, result: IntakeResult) -> None:
    names = [image.name for image in result.images]
    taken = session.scalars(select(DatasetFile.name).where(
        DatasetFile.dataset_id == dataset.id, DatasetFile.name.in_(names))).all()
    if taken:
        raise Conflict(f"the dataset already has files named {', '.join(sorted(taken)[:10])}; "
                       "delete them first or rename the new ones; nothing was stored")


def _store_images(session: Session, store: ObjectStore, dataset: Dataset, result: IntakeResult) -> None:
    written: list[str] = []
    on_rollback(session, lambda: store.delete(written))
    for image in result.images:
        file_id = new_id("file")
        key = keys.dataset_image(dataset.tenant_id, dataset.id, file_id, image.format)
        with image.path.open("rb") as data:
            store.put(key, data, image.size_bytes, image.content_type)
        written.append(key)
        session.add(DatasetFile(
            id=file_id, dataset_id=dataset.id, tenant_id=dataset.tenant_id, name=image.name, object_key=key,
            caption=image.caption or "", format=image.format, width=image.width, height=image.height,
            size_bytes=image.size_bytes, sha256=image.sha256,
        ))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("another upload to this dataset stored files with the same names; retry") from None
    dataset.file_count += len(result.images)
    dataset.total_bytes += sum(image.size_bytes for image in result.images)
    dataset.updated_at = utcnow()


def list_files(session: Session, *, actor: TenantPrincipal, dataset_id: str,
               params: PageParams) -> tuple[list[DatasetFile], str | None]:
    dataset = get(session, actor=actor, dataset_id=dataset_id)
    rows, cursor = paginate(session, select(DatasetFile).where(DatasetFile.dataset_id == dataset.id),
                            DatasetFile.id, params)
    return list(rows), cursor


def delete_file(session: Session, store: ObjectStore, *, actor: TenantPrincipal, dataset_id: str,
                file_id: str) -> None:
    dataset = get(session, actor=actor, dataset_id=dataset_id, for_update=True)
    row = session.scalar(select(DatasetFile).where(DatasetFile.id == file_id, DatasetFile.dataset_id == dataset.id))
    if row is None:
        raise NotFound.of("file", file_id)
    dataset.file_count -= 1
    dataset.total_bytes -= row.size_bytes
    dataset.updated_at = utcnow()
    session.delete(row)
    key = row.object_key
    on_commit(session, lambda: store.delete([key]))

"""Training jobs: submit (validated, idempotent; from scratch or from a checkpoint), list, inspect,
cancel, pause, resume, extend, read events and checkpoints."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.jobs import hyperparameters
from sanacloud.api.jobs.schemas import FullJobCreate, JobOut, JobUpdate, LoraJobCreate, LoraSettings
from sanacloud.api.pagination import PageParams, paginate
from sanacloud.platform import accounts, idempotency, tenant_caps
from sanacloud.platform.catalog import FAMILIES
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.base import new_id
from sanacloud.platform.db.models import Checkpoint, Dataset, DatasetFile, GpuPool, Job, JobEvent, Model
from sanacloud.platform.db.scoped import get_owned
from sanacloud.platform.errors import Conflict, InvalidInput
from sanacloud.platform.jobs import lifecycle, retention
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import TERMINAL, JobStatus
from sanacloud.platform.scheduler import room
from sanacloud.platform.scheduler.admission import schedule_pool
from sanacloud.platform.scheduler.policy import WaitKind

IDEMPOTENCY_SCOPE = "jobs.create"
CAPTIONS_SAMPLED = 64


def job_out(session: Session, job: Job) -> JobOut:
    """The job as the API shows it: its columns, and the names of its pool and base model."""
    names = {"pool": session.get_one(GpuPool, job.pool_id).name,
             "base_model": session.get_one(Model, job.base_model_id).name}
    return JobOut.model_validate({field: names[field] if field in names else getattr(job, field)
                                  for field in JobOut.model_fields})


def get(session: Session, *, actor: TenantPrincipal, job_id: str, for_update: bool = False) -> Job:
    return get_owned(session, Job, job_id, tenant_id=actor.tenant_id, kind="job", for_update=for_update)


def create(session: Session, *, actor: TenantPrincipal, request: LoraJobCreate | FullJobCreate,
           idempotency_key: str | None, ttl_s: int) -> tuple[Job, bool]:
    """Submit a job. Returns (job, created); created is False when an Idempotency-Key replays."""
    job_id = new_id("job")
    if idempotency_key is not None:
        owner = idempotency.owner(session, tenant_id=actor.tenant_id, scope=IDEMPOTENCY_SCOPE, key=idempotency_key,
                                  body=request.model_dump(mode="json"), resource_id=job_id, ttl_s=ttl_s)
        if owner != job_id:
            return get(session, actor=actor, job_id=owner), False
    return _submit(session, actor=actor, request=request, job_id=job_id), True


def _submit(session: Session, *, actor: TenantPrincipal, request: LoraJobCreate | FullJobCreate, job_id: str) -> Job:
    tenant_caps.ensure_room(session, tenant_id=actor.tenant_id, kind=tenant_caps.Kind.ACTIVE_JOBS)
    dataset = _dataset(session, actor, request.dataset_id)
    base = _base_model(session, request.base_model)
    start = None
    if request.from_checkpoint is not None:
        start = get_owned(session, Checkpoint, request.from_checkpoint, tenant_id=actor.tenant_id, kind="checkpoint")
        request = _continuing(request, session.get_one(Job, start.job_id), base)
    family = FAMILIES[base.family]
    pool = accounts.pool_for(session, tenant_id=actor.tenant_id, name=request.pool)
    gpus = request.gpus or (family.gpus_full if isinstance(request, FullJobCreate) else 1)
    never = room.never_fits(session, tenant_id=actor.tenant_id, pool=pool, gpus=gpus)
    if never is not None:
        raise InvalidInput(too_large(never, pool, gpus))
    prior = request.hyperparameters.prior
    if prior is not None and prior.class_dataset_id is not None:
        _dataset(session, actor, prior.class_dataset_id)
    resolved = hyperparameters.resolve(request, family, image_count=dataset.file_count,
                                       captions=_sample_captions(session, dataset), on_cpu=pool.gpu_type == "cpu")
    job = Job(id=job_id, tenant_id=actor.tenant_id, name=request.name or f"{request.type}-{dataset.name}"[:100],
              type=request.type, status=JobStatus.VALIDATING, dataset_id=dataset.id, base_model_id=base.id,
              pool_id=pool.id, gpus=gpus, priority=request.priority, requested=request.model_dump(mode="json"),
              hyperparameters=resolved, from_checkpoint_id=start.id if start else None)
    session.add(job)
    session.flush()
    transition(session, job, JobStatus.QUEUED, reason="validated")
    schedule_pool(session, pool.id)
    return job


def _continuing(request: LoraJobCreate | FullJobCreate, source: Job,
                base: Model) -> LoraJobCreate | FullJobCreate:
    """The request of a job starting from a checkpoint of `source`: it must train the same kind of
    weights of the same base model; a LoRA without `lora` settings takes the source's adapter shape."""
    checkpoint = request.from_checkpoint
    if source.type != request.type:
        raise InvalidInput(f"checkpoint {checkpoint!r} holds {source.type} weights; a {request.type} job cannot start "
                           f"from it (submit a {source.type} job)")
    if source.base_model_id != base.id:
        trained_on = source.requested.get("base_model", source.base_model_id)
        raise InvalidInput(f"checkpoint {checkpoint!r} was trained on base model {trained_on!r}, not "
                           f"{request.base_model!r}; a job starts from a checkpoint of its own base model")
    if not isinstance(request, LoraJobCreate):
        return request
    shape = source.hyperparameters["lora"]
    if "lora" not in request.model_fields_set:
        return request.model_copy(update={"lora": LoraSettings(
            rank=shape["rank"], alpha=shape["alpha"], dropout=shape["dropout"], targets=shape["targets"])})
    asked = (request.lora.rank, sorted(set(request.lora.targets)))
    if asked != (shape["rank"], shape["targets"]):
        raise InvalidInput(f"checkpoint {checkpoint!r} is a LoRA of rank {shape['rank']} on "
                           f"{', '.join(shape['targets'])}; the request asks rank {asked[0]} on {', '.join(asked[1])}. "
                           "Omit `lora` to keep the checkpoint's")
    return request


def _sample_captions(session: Session, dataset: Dataset) -> list[str]:
    """Some of the dataset's captions (for the default validation prompts): each image's own, else
    the best a captioning job wrote for it."""
    files = session.scalars(select(DatasetFile).where(DatasetFile.dataset_id == dataset.id)
                            .order_by(DatasetFile.name).limit(CAPTIONS_SAMPLED)).all()
    written = auto_captions.by_file(session, [f.id for f in files])
    return [f.caption or auto_captions.best_text(written.get(f.id, [])) for f in files]


def _dataset(session: Session, actor: TenantPrincipal, dataset_id: str) -> Dataset:
    dataset = get_owned(session, Dataset, dataset_id, tenant_id=actor.tenant_id, kind="dataset")
    if dataset.file_count == 0:
        raise InvalidInput(f"dataset {dataset.id!r} has no images yet; upload some before training on it")
    return dataset


def _base_model(session: Session, name_or_id: str) -> Model:
    model = session.scalar(select(Model).where(
        Model.kind == "base", Model.tenant_id.is_(None), or_(Model.name == name_or_id, Model.id == name_or_id)))
    if model is None:
        known = session.scalars(select(Model.name).where(Model.kind == "base", Model.tenant_id.is_(None))).all()
        raise InvalidInput(f"unknown base model {name_or_id!r}; available: {', '.join(sorted(known)) or 'none'}")
    if model.status != "ready":
        raise InvalidInput(f"base model {model.name!r} is {model.status}, not ready")
    return model


def too_large(never: room.NoRoom, pool: GpuPool, gpus: int) -> str:
    if never.kind is WaitKind.LARGER_THAN_POOL:
        return f"the job needs {gpus} GPUs but pool {pool.name!r} has only {never.limit}"
    return (f"the job needs {gpus} GPUs but your quota on pool {pool.name!r} allows at most {never.limit} "
            "(nominal plus borrowing); ask a platform admin for more")


def list_jobs(session: Session, *, actor: TenantPrincipal, params: PageParams, status: str | None,
              dataset_id: str | None) -> tuple[list[Job], str | None]:
    query = select(Job).where(Job.tenant_id == actor.tenant_id)
    if status is not None:
        query = query.where(Job.status == status)
    if dataset_id is not None:
        query = query.where(Job.dataset_id == dataset_id)
    rows, cursor = paginate(session, query, Job.id, params)
    return list(rows), cursor


def cancel(session: Session, *, actor: TenantPrincipal, job_id: str) -> Job:
    get(session, actor=actor, job_id=job_id)  # the tenant's, else 404
    return lifecycle.cancel(session, job_id=job_id)


def pause(session: Session, *, actor: TenantPrincipal, job_id: str) -> Job:
    get(session, actor=actor, job_id=job_id)  # the tenant's, else 404
    return lifecycle.pause(session, job_id=job_id)


def resume(session: Session, *, actor: TenantPrincipal, job_id: str) -> Job:
    get(session, actor=actor, job_id=job_id)
    return lifecycle.resume(session, job_id=job_id)


def update(session: Session, *, actor: TenantPrincipal, job_id: str, request: JobUpdate) -> Job:
    job = get(session, actor=actor, job_id=job_id)
    if request.steps is not None:
        job = lifecycle.extend(session, job_id=job_id, steps=request.steps)
    if request.name is not None:
        job.name = request.name
    return job


def delete(session: Session, *, actor: TenantPrincipal, job_id: str) -> None:
    """A finished job, with its events, checkpoints and stored objects."""
    job = get(session, actor=actor, job_id=job_id, for_update=True)
    if job.status not in TERMINAL:
        raise Conflict(f"job {job.id!r} is {job.status}; cancel it and wait until it is cancelled before deleting it")
    successor = session.scalar(select(Job.id).join(Checkpoint, Checkpoint.id == Job.from_checkpoint_id).where(
        Checkpoint.job_id == job.id, Job.status.not_in(TERMINAL)).limit(1))
    if successor is not None:
        raise Conflict(f"job {successor!r} starts from a checkpoint of job {job.id!r} and has not finished; "
                       "delete this job once it has")
    retention.delete_job(session, job)


def events(session: Session, *, actor: TenantPrincipal, job_id: str, after: int, limit: int,
           types: list[str]) -> tuple[list[JobEvent], int | None]:
    job = get(session, actor=actor, job_id=job_id)
    query = select(JobEvent).where(JobEvent.job_id == job.id, JobEvent.id > after)
    if types:
        query = query.where(JobEvent.type.in_(types))
    rows = list(session.scalars(query.order_by(JobEvent.id).limit(limit)))
    return rows, (rows[-1].id if len(rows) == limit else None)


def checkpoints(session: Session, *, actor: TenantPrincipal, job_id: str) -> list[Checkpoint]:
    job = get(session, actor=actor, job_id=job_id)
    return list(session.scalars(select(Checkpoint).where(Checkpoint.job_id == job.id).order_by(Checkpoint.step)))


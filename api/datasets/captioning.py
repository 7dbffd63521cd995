"""Auto-captioning a dataset: a job of type `captions` on the pool's GPUs, queued and admitted like
a training job (it holds one GPU while it runs), run by workers/training/captioning.py."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.api.datasets import schemas
from sanacloud.api.deps import TenantPrincipal
from sanacloud.api.jobs.service import too_large
from sanacloud.platform import accounts, captioners, idempotency, tenant_caps
from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.base import new_id
from sanacloud.platform.db.models import Dataset, Job, Model
from sanacloud.platform.db.scoped import get_owned
from sanacloud.platform.errors import Conflict, InvalidInput
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import TERMINAL, JobStatus
from sanacloud.platform.scheduler import room
from sanacloud.platform.scheduler.admission import schedule_pool
from sanacloud.platform.settings import Settings

IDEMPOTENCY_SCOPE = "datasets.captions"


def start(session: Session, settings: Settings, *, actor: TenantPrincipal, dataset_id: str,
          body: schemas.CaptioningCreate, idempotency_key: str | None) -> tuple[Job, bool]:
    """Queue a captioning job. Returns (job, created); created is False when an Idempotency-Key replays."""
    job_id = new_id("job")
    if idempotency_key is not None:
        body_seen = {"dataset_id": dataset_id, **body.model_dump(mode="json", exclude_unset=True)}
        owner = idempotency.owner(session, tenant_id=actor.tenant_id, scope=IDEMPOTENCY_SCOPE, key=idempotency_key,
                                  body=body_seen, resource_id=job_id, ttl_s=settings.idempotency_ttl_s)
        if owner != job_id:
            return get_owned(session, Job, owner, tenant_id=actor.tenant_id, kind="job"), False
    return _submit(session, settings, actor=actor, dataset_id=dataset_id, body=body, job_id=job_id), True


def _submit(session: Session, settings: Settings, *, actor: TenantPrincipal, dataset_id: str,
            body: schemas.CaptioningCreate, job_id: str) -> Job:
    # Locked: two requests to caption one dataset are serial, so the second finds the first's job.
    dataset = get_owned(session, Dataset, dataset_id, tenant_id=actor.tenant_id, kind="dataset", for_update=True)
    if dataset.file_count == 0:
        raise InvalidInput(f"dataset {dataset.id!r} has no images yet; upload some before captioning it")
    default = settings.effective_default_captioner
    names = body.captioners or ([default] if default else [])
    if not names:
        known = captioners.registered_names(session, "captioner")
        raise InvalidInput("name the captioners to use: this platform sets no default captioner "
                           f"(SANACLOUD_DEFAULT_CAPTIONER); registered: {known}")
    chosen = captioners.resolve(session, names, kind="captioner")
    if len({m.id for m in chosen}) != len(chosen):
        raise InvalidInput(f"captioners names one captioner twice: {', '.join(names)}")
    busy = session.scalar(select(Job.id).where(Job.dataset_id == dataset.id, Job.type == auto_captions.JOB_TYPE,
                                               Job.status.not_in([str(s) for s in TERMINAL])).limit(1))
    if busy is not None:
        raise Conflict(f"dataset {dataset.id!r} is being captioned by job {busy}; wait for it or cancel it first")
    scorer_name = body.scorer if "scorer" in body.model_fields_set else settings.effective_default_scorer
    scorer = captioners.resolve(session, [scorer_name], kind="scorer")[0] if scorer_name else None
    tenant_caps.ensure_room(session, tenant_id=actor.tenant_id, kind=tenant_caps.Kind.ACTIVE_JOBS)
    pool = accounts.pool_for(session, tenant_id=actor.tenant_id, name=body.pool)
    never = room.never_fits(session, tenant_id=actor.tenant_id, pool=pool, gpus=1)
    if never is not None:
        raise InvalidInput(too_large(never, pool, 1))
    job = Job(id=job_id, tenant_id=actor.tenant_id, name=body.name or f"captions-{dataset.name}"[:100],
              type=auto_captions.JOB_TYPE,
              status=JobStatus.VALIDATING, dataset_id=dataset.id, base_model_id=chosen[0].id, pool_id=pool.id,
              gpus=1, priority=body.priority, requested=body.model_dump(mode="json"),
              hyperparameters={"captioners": [_ref(m) for m in chosen], "scorer": _ref(scorer) if scorer else None,
                               "images": dataset.file_count})
    session.add(job)
    session.flush()
    transition(session, job, JobStatus.QUEUED, reason="validated")
    schedule_pool(session, pool.id)
    return job


def _ref(model: Model) -> dict[str, str]:
    """What the worker needs to load it; `source` names its captions."""
    return {"source": model.name, "model_id": model.id, "family": model.family, "uri": model.uri}

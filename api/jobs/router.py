from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response

from sanacloud.api.deps import SessionDep, SettingsDep, StoreDep, TenantDep
from sanacloud.api.errors import AUTHENTICATED, problems
from sanacloud.api.jobs import schemas, service
from sanacloud.api.pagination import PageDep
from sanacloud.api.schemas import Page
from sanacloud.platform.jobs.status import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=AUTHENTICATED)


@router.post("", status_code=201, responses={
    200: {"model": schemas.JobOut, "description": "an Idempotency-Key replay: the job it created"},
    **problems(404, 409)})
def jobs_create(
    request: Annotated[schemas.JobCreate, Body()], response: Response, session: SessionDep, settings: SettingsDep,
    actor: TenantDep,
    idempotency_key: Annotated[str | None, Header(description="retry-safe submission: the same key and body "
                                                              "return the job first created")] = None,
) -> schemas.JobOut:
    job, created = service.create(session, actor=actor, request=request, idempotency_key=idempotency_key,
                                  ttl_s=settings.idempotency_ttl_s)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return service.job_out(session, job)


@router.get("")
def jobs_list(session: SessionDep, actor: TenantDep, page: PageDep, status: JobStatus | None = None,
              dataset_id: Annotated[str | None, Query(max_length=40)] = None) -> Page[schemas.JobOut]:
    rows, cursor = service.list_jobs(session, actor=actor, params=page, status=status, dataset_id=dataset_id)
    return Page[schemas.JobOut](items=[service.job_out(session, job) for job in rows], next_cursor=cursor)


@router.get("/{job_id}")
def jobs_get(job_id: str, session: SessionDep, actor: TenantDep) -> schemas.JobOut:
    return service.job_out(session, service.get(session, actor=actor, job_id=job_id))


@router.post("/{job_id}/cancel", responses=problems(409))
def jobs_cancel(job_id: str, session: SessionDep, actor: TenantDep) -> schemas.JobOut:
    return service.job_out(session, service.cancel(session, actor=actor, job_id=job_id))


@router.post("/{job_id}/pause", responses=problems(409))
def jobs_pause(job_id: str, session: SessionDep, actor: TenantDep) -> schemas.JobOut:
    """Stop the job with its state kept: at once when it is not running yet, else after its trainer has
    checkpointed (until then `pause_requested_at` is set); its GPUs go to whoever waits."""
    return service.job_out(session, service.pause(session, actor=actor, job_id=job_id))


@router.post("/{job_id}/resume", responses=problems(409))
def jobs_resume(job_id: str, session: SessionDep, actor: TenantDep) -> schemas.JobOut:
    """Queue a paused job again; admitted, it continues from its newest checkpoint (a pause still pending
    is withdrawn)."""
    return service.job_out(session, service.resume(session, actor=actor, job_id=job_id))


@router.patch("/{job_id}", responses=problems(409))
def jobs_update(job_id: str, request: Annotated[schemas.JobUpdate, Body()], session: SessionDep,
                actor: TenantDep) -> schemas.JobOut:
    """Rename a job, or extend it to more steps."""
    return service.job_out(session, service.update(session, actor=actor, job_id=job_id, request=request))


@router.delete("/{job_id}", status_code=204, responses=problems(409))
def jobs_delete(job_id: str, session: SessionDep, actor: TenantDep) -> None:
    """Delete a finished job and everything it stored (checkpoints, samples)."""
    service.delete(session, actor=actor, job_id=job_id)


@router.get("/{job_id}/events")
def jobs_list_events(
    job_id: str, session: SessionDep, actor: TenantDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="return events with an id greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[str] | None, Query(description="only these event types, e.g. status, step")] = None,
) -> schemas.EventPage:
    rows, cursor = service.events(session, actor=actor, job_id=job_id, after=after, limit=limit, types=type or [])
    return schemas.EventPage(items=[schemas.JobEventOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{job_id}/checkpoints")
def jobs_list_checkpoints(job_id: str, session: SessionDep, store: StoreDep, settings: SettingsDep,
                          actor: TenantDep) -> list[schemas.CheckpointOut]:
    return [schemas.CheckpointOut(
        id=c.id, step=c.step, metrics=c.metrics, created_at=c.created_at,
        sample_urls=[store.presigned_get_url(key, settings.presign_ttl_s) for key in c.sample_keys],
    ) for c in service.checkpoints(session, actor=actor, job_id=job_id)]

"""The outbox: each event writes one delivery per enabled webhook of its tenant whose filter takes it,
in the transaction of the change it reports (rolled back with it), from the one place each
change happens: job transitions, endpoint transitions, finished generations."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Endpoint, Generation, GpuPool, Job, JobEvent, Model, WebhookDelivery
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs.states import transition
from sanacloud.platform.jobs.status import JobStatus
from sanacloud.platform.serving import generations
from sanacloud.platform.serving.states import EndpointStatus, GenerationStatus, transition_endpoint
from sanacloud.platform.webhooks.events import EventType, emit
from tests.helpers.backends import TenantCtx
from tests.helpers.webhooks import registered

URL = "https://hooks.example.com/sanacloud"


def bodies(session: Session) -> list[dict[str, object]]:
    """Every delivery's body, in the order they were written (one event's deliveries in any order)."""
    rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)).all()
    return [json.loads(row.body) for row in rows]


def queued_job(session: Session, tenant: TenantCtx) -> Job:
    job = Job(tenant_id=tenant.id, name="night run", type="lora", status=JobStatus.QUEUED,
              base_model_id=session.scalars(select(Model.id).where(Model.name == "sana-tiny")).one(),
              pool_id=session.scalars(select(GpuPool.id)).one(), requested={}, hyperparameters={})
    session.add(job)
    session.flush()
    return job


def test_an_event_goes_to_each_enabled_webhook_that_takes_it(make_tenant) -> None:  # type: ignore[no-untyped-def]
    acme, other = make_tenant("acme"), make_tenant("other")
    everything, _ = registered(acme.id, URL)
    endpoints_only, _ = registered(acme.id, URL, ["endpoint.status"])
    registered(acme.id, URL, enabled=False)
    registered(other.id, URL)
    with session_scope() as session:
        written = emit(session, tenant_id=acme.id, type=EventType.JOB_STATUS, data={"to": "queued"})
        assert [row.webhook_id for row in written] == [everything]
        both = emit(session, tenant_id=acme.id, type="endpoint.status", data={"to": "ready"})
        assert sorted(row.webhook_id for row in both) == sorted([everything, endpoints_only])
        assert len({row.event_id for row in both}) == 1 and len({row.id for row in both}) == 2
    with session_scope() as session:
        sent = bodies(session)
    assert [body["type"] for body in sent] == ["job.status", "endpoint.status", "endpoint.status"]
    assert sent[0]["data"] == {"to": "queued"} and sent[0]["tenant_id"] == acme.id
    with pytest.raises(ValueError, match=r"job\.finished"), session_scope() as session:
        emit(session, tenant_id=acme.id, type="job.finished", data={})


def test_an_event_and_its_deliveries_roll_back_together(tenant: TenantCtx) -> None:
    registered(tenant.id, URL)
    with session_scope() as session:
        job_id = queued_job(session, tenant).id
    with pytest.raises(RuntimeError), session_scope() as session:
        transition(session, session.get_one(Job, job_id), JobStatus.CANCELLED, reason="by you")
        session.flush()
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        raise RuntimeError("the request failed after the change")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert session.scalar(select(func.count()).select_from(JobEvent)) == 0
        assert session.get_one(Job, job_id).status == JobStatus.QUEUED

    with session_scope() as session:
        transition(session, session.get_one(Job, job_id), JobStatus.CANCELLED, reason="by you")
    with session_scope() as session:
        (sent,) = bodies(session)
        assert session.scalar(select(func.count()).select_from(JobEvent)) == 1
    assert sent["type"] == "job.status"
    assert sent["data"] == {"job_id": job_id, "job_name": "night run", "from": "queued", "to": "cancelled",
                            "reason": "by you"}


def test_endpoint_moves_and_finished_generations_are_events(tenant: TenantCtx) -> None:
    registered(tenant.id, URL, ["endpoint.status", "generation.finished"])
    with session_scope() as session:
        model_id = session.scalars(select(Model.id).where(Model.name == "sana-tiny")).one()
        endpoint = Endpoint(tenant_id=tenant.id, model_id=model_id, pool_id=session.scalars(select(GpuPool.id)).one(),
                            name="ep", status=EndpointStatus.COLD)
        session.add(endpoint)
        session.flush()
        generation = Generation(tenant_id=tenant.id, endpoint_id=endpoint.id, status=GenerationStatus.RUNNING)
        session.add(generation)
        session.flush()
        endpoint_id, generation_id = endpoint.id, generation.id
        transition_endpoint(endpoint, EndpointStatus.LOADING)
    with session_scope() as session:
        generations.mark_endpoints(session, {endpoint_id}, EndpointStatus.FAILED, worker=None, error="out of memory")
        generations.finish(session, generation_id=generation_id, image_keys=[], timings={"queue": 0.5},
                           error="its endpoint failed")
        generations.finish(session, generation_id=generation_id, image_keys=[], timings={})  # ended already
    with session_scope() as session:
        loading, failed, finished = (body["data"] for body in bodies(session))
    assert loading == {"endpoint_id": endpoint_id, "endpoint_name": "ep", "model_id": model_id, "from": "cold",
                       "to": "loading"}
    assert failed == {**loading, "from": "loading", "to": "failed", "error": "out of memory"}
    assert finished == {"generation_id": generation_id, "endpoint_id": endpoint_id, "status": "failed",
                        "error": "its endpoint failed", "images": 0, "timings": {"queue": 0.5}}


def test_a_webhook_registered_earlier_in_the_transaction_is_seen(tenant: TenantCtx) -> None:
    """What emit read of the webhooks lasts one transaction: the next one sees a webhook added since."""
    with session_scope() as session:
        assert emit(session, tenant_id=tenant.id, type=EventType.CHECKPOINT_CREATED, data={}) == []
    registered(tenant.id, URL)
    with session_scope() as session:
        assert len(emit(session, tenant_id=tenant.id, type=EventType.CHECKPOINT_CREATED, data={})) == 1


def test_an_events_body_is_json_even_with_non_finite_numbers(tenant: TenantCtx) -> None:
    registered(tenant.id, URL)
    with session_scope() as session:
        (written,) = emit(session, tenant_id=tenant.id, type=EventType.CHECKPOINT_CREATED,
                          data={"metrics": {"loss": float("nan"), "grad_norm": [1.5, float("inf")]}})
    assert json.loads(written.body, parse_constant=lambda name: pytest.fail(f"{name} in the body"))["data"] == {
        "metrics": {"loss": None, "grad_norm": [1.5, None]}}


def test_a_new_checkpoint_is_announced_once(make_tenant) -> None:  # type: ignore[no-untyped-def]
    from sanacloud.platform.jobs import lifecycle

    acme = make_tenant("acme")
    registered(acme.id, URL, ["checkpoint.created"])
    with session_scope() as session:
        job = queued_job(session, acme)
        for status in (JobStatus.ADMITTED, JobStatus.RUNNING):
            transition(session, job, status)
        job.attempt = 1
        job_id = job.id
    for _ in range(2):  # the same step uploaded again after a resume
        with session_scope() as session:
            row = lifecycle.record_checkpoint(session, job_id=job_id, attempt=1, step=5, object_prefix="p/",
                                              metrics={"loss": 0.25}, sample_keys=["p/samples/00.png"])
            assert row is not None
            checkpoint_id = row.id
    with session_scope() as session:
        sent = bodies(session)
    assert [body["data"] for body in sent] == [{"checkpoint_id": checkpoint_id, "job_id": job_id,
                                               "job_name": "night run", "step": 5, "metrics": {"loss": 0.25},
                                               "samples": 1}]

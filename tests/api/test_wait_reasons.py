"""A queued job says why it waits and what holds the GPUs it needs (its own tenant's holders by id,
other tenants' only counted), with a `waiting` event each time that changes and none at a tick that
changes nothing; usage shows the GPUs that warm endpoints hold."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, update

from sanacloud.platform import accounts
from sanacloud.platform.db.models import Endpoint
from sanacloud.platform.db.session import get_engine, session_scope
from sanacloud.platform.scheduler.admission import schedule_all
from sanacloud.platform.serving.states import EndpointStatus
from tests.helpers.api import lora_job, new_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.lifecycle import end, resize, start


def job(client: TestClient, tenant: TenantCtx, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()
    return found


def waiting_events(client: TestClient, tenant: TenantCtx, job_id: str) -> list[dict[str, Any]]:
    events = client.get(f"/v1/jobs/{job_id}/events?type=waiting", headers=tenant.headers).json()["items"]
    return [event["payload"] for event in events]


def tick() -> None:
    with session_scope() as session:
        schedule_all(session)


def warm_endpoint(client: TestClient, tenant: TenantCtx, **settings: Any) -> str:
    """An endpoint on the base model, warm (loading) after one request."""
    created = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny", **settings},
                          headers=tenant.headers)
    assert created.status_code == 201, created.text
    endpoint_id = str(created.json()["id"])
    asked = client.post(f"/v1/endpoints/{endpoint_id}/generate", json={"prompt": "a red circle", "wait": False},
                        headers=tenant.headers)
    assert asked.status_code == 202, asked.text
    return endpoint_id


def test_a_warm_endpoint_holding_the_only_gpu_is_named_and_counted(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("acme", nominal_gpus=1)
    resize("gpu", 1)
    endpoint_id = warm_endpoint(client, tenant)
    submitted = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1))).json()
    assert submitted["status"] == "queued"
    reason = ("your tenant holds 1 of its 1 GPU in pool 'gpu' (nominal 1, borrowing 0) and this job needs 1: "
              f"endpoint {endpoint_id} (warm until idle 300 s)")
    assert submitted["wait_reason"] == reason
    tick()
    tick()
    assert waiting_events(client, tenant, submitted["id"]) == [  # once, not at every tick
        {"reason": reason, "kind": "quota", "holders": [{"kind": "endpoint", "ids": [endpoint_id], "gpus": 1}],
         "other_tenants_gpus": 0}]

    usage = client.get("/v1/usage", headers=tenant.headers).json()["pools"][0]
    assert (usage["gpus_in_use"], usage["gpus_held_by_jobs"], usage["gpus_held_by_endpoints"]) == (1, 0, 1)
    assert usage["holders"] == [{"kind": "endpoint", "ids": [endpoint_id], "gpus": 1}]

    with session_scope() as session:  # the endpoint scales to zero
        session.execute(update(Endpoint).values(status=EndpointStatus.COLD))
    tick()
    admitted = job(client, tenant, submitted["id"])
    assert admitted["status"] == "admitted" and admitted["wait_reason"] is None


def test_another_tenants_holders_are_counted_not_named(client: TestClient, make_tenant,  # type: ignore[no-untyped-def]
                                                       admin_headers: dict[str, str]) -> None:
    mine, theirs = make_tenant("mine", nominal_gpus=1), make_tenant("theirs", nominal_gpus=2)
    resize("gpu", 2)
    their_job = new_job(client, theirs)
    their_endpoint = warm_endpoint(client, theirs, min_replicas=1)
    waiting = new_job(client, mine)
    reason = job(client, mine, waiting)["wait_reason"]
    assert reason == ("waiting for 1 GPU in pool 'gpu': all 2 are held, by jobs of other tenants (1 GPU), "
                      "endpoints of other tenants (1 GPU)")
    assert their_job not in reason and their_endpoint not in reason

    pools = client.get("/v1/admin/usage", headers=admin_headers).json()["pools"]
    assert pools == [{"pool": "gpu", "capacity_gpus": 2, "gpus_in_use": 2, "gpus_held_by_jobs": 1,
                      "gpus_held_by_endpoints": 1, "queued_jobs": 1, "holders": [
                          {"tenant_id": theirs.id, "kind": "job", "ids": [their_job], "gpus": 1},
                          {"tenant_id": theirs.id, "kind": "endpoint", "ids": [their_endpoint], "gpus": 1}]}]


def test_the_reason_follows_what_holds_the_gpus_and_is_gone_once_admitted(client: TestClient,  # type: ignore[no-untyped-def]
                                                                          make_tenant) -> None:
    tenant = make_tenant("acme", nominal_gpus=2)
    first, second = new_job(client, tenant), new_job(client, tenant)
    third = new_job(client, tenant)
    assert job(client, tenant, third)["wait_reason"] == (
        f"your tenant holds 2 of its 2 GPUs in pool 'gpu' (nominal 2, borrowing 0) and this job needs 1: "
        f"jobs {first}, {second}")
    start(first)
    end(first)
    assert job(client, tenant, third)["status"] == "admitted"
    fourth = new_job(client, tenant)
    assert [event["holders"] for event in waiting_events(client, tenant, fourth)] == [
        [{"kind": "job", "ids": [second], "gpus": 1}, {"kind": "job", "ids": [third], "gpus": 1}]]
    assert [event["reason"].split(": ")[-1] for event in waiting_events(client, tenant, third)] == [
        f"jobs {first}, {second}"]
    cancelled = client.post(f"/v1/jobs/{fourth}/cancel", headers=tenant.headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["wait_reason"] is None


def test_a_job_within_quota_waiting_for_preempted_borrowers_says_so(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    borrower, owner = make_tenant("borrower", nominal_gpus=0, borrow=2), make_tenant("owner", nominal_gpus=1)
    resize("gpu", 2)
    borrowed = [new_job(client, borrower) for _ in range(2)]
    for job_id in borrowed:
        start(job_id)
    waiting = new_job(client, owner)
    assert job(client, owner, waiting)["wait_reason"] == (
        "reserved: waiting for preempted jobs of other tenants (1 GPU) to checkpoint and stop")
    later = new_job(client, borrower)
    assert job(client, borrower, later)["wait_reason"] == (
        "your tenant holds 2 of its 2 GPUs in pool 'gpu' (nominal 0, borrowing 2) and this job needs 1: "
        f"jobs {', '.join(sorted(borrowed))}")


def test_new_holders_update_the_reason_but_only_a_new_kind_of_wait_is_an_event(client: TestClient,  # type: ignore[no-untyped-def]
                                                                               make_tenant) -> None:
    tenant = make_tenant("acme", nominal_gpus=2)
    first, second = new_job(client, tenant), new_job(client, tenant)
    third, fourth = new_job(client, tenant), new_job(client, tenant)
    start(first)
    end(first)  # third takes its GPU: fourth now waits behind second and third
    assert job(client, tenant, fourth)["wait_reason"].endswith(f"jobs {second}, {third}")
    assert [event["kind"] for event in waiting_events(client, tenant, fourth)] == ["quota"]

    resize("gpu", 2)
    with session_scope() as session:  # the quota grows past the pool: now capacity is short
        accounts.set_quota(session, tenant_id=tenant.id, pool=accounts.get_pool_by_name(session, name="gpu"),
                           nominal_gpus=2, borrowing_limit_gpus=1)
    tick()
    assert job(client, tenant, fourth)["wait_reason"].startswith("waiting for 1 GPU in pool 'gpu': all 2 are held")
    assert [event["kind"] for event in waiting_events(client, tenant, fourth)] == ["quota", "capacity"]


def test_a_tick_that_changes_no_reason_writes_nothing(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_tenant("mine", nominal_gpus=1), make_tenant("theirs", nominal_gpus=1, borrow=1)
    resize("gpu", 2)
    jobs = [(tenant, new_job(client, tenant)) for tenant in (mine, mine, theirs, theirs, theirs)]
    tick()
    writes: list[str] = []

    def record(_conn, _cursor, statement: str, *_: Any) -> None:  # type: ignore[no-untyped-def]
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(get_engine(), "before_cursor_execute", record)
    try:
        tick()
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)
    assert writes == []
    found = [job(client, tenant, job_id) for tenant, job_id in jobs]
    queued = [one for one in found if one["status"] == "queued"]
    assert len(queued) == 3 and all(one["wait_reason"] for one in queued)

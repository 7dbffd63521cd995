"""Webhook deliveries sent by the worker's code (run here, as the task runs it) to a real HTTP
receiver on loopback, on both backends: signed, retried with the same id, never redirected,
sent again after a lost worker's lease, a webhook disabled after repeated failures, and an
address refused at delivery time when the guard is on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from sanacloud.client.webhooks import verify
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import DeliveryStatus
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from sanacloud.platform.webhooks.delivery import claim, deliver_due
from sanacloud.platform.webhooks.events import EventType, emit
from tests.helpers.backends import TenantCtx
from tests.helpers.deadlines import wait_until
from tests.helpers.webhooks import (
    Receiver,
    Reply,
    delivery,
    emitted,
    registered,
    running_receiver,
    use_settings,
    webhook,
)

QUICK_RETRIES = {"webhook_allow_private_addresses": "true", "webhook_retry_base_s": "0.05",
                 "webhook_retry_max_s": "0.1"}


@pytest.fixture
def receiver(configured: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    use_settings(monkeypatch, **QUICK_RETRIES)
    with running_receiver() as running:
        yield running


def deliver_until(done: object, what: str) -> None:
    """Run the delivery task's work until `done()` holds, as beat's polls would."""
    wait_until(lambda: (deliver_due(get_settings()), done())[1], what=what, timeout_s=30,  # type: ignore[operator]
               every_s=0.05)


def outcomes(kind: str) -> float:
    return REGISTRY.get_sample_value("sanacloud_webhook_deliveries_total", {"outcome": kind}) or 0.0


def test_a_delivery_is_signed_with_the_secret_shown_once(receiver: Receiver, tenant: TenantCtx) -> None:
    _webhook_id, secret = registered(tenant.id, f"{receiver.url}/hook")
    (delivery_id,) = emitted(tenant.id)
    delivered_before = outcomes("delivered")

    assert deliver_due(get_settings()) == {"delivered": 1}
    (request,) = receiver.received
    event = verify(secret, body=request.body, headers=request.headers)
    assert request.path == "/hook" and request.delivery_id == delivery_id == event["id"]
    assert event["type"] == "job.status" and event["data"] == {"n": 0} and event["tenant_id"] == tenant.id
    assert request.headers["sanacloud-webhook-event"] == "job.status"
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        verify(secret + "x", body=request.body, headers=request.headers)
    sent = delivery(delivery_id)
    assert (sent.status, sent.attempts, sent.response_status, sent.last_error) == (DeliveryStatus.DELIVERED, 1, 200,
                                                                                  None)
    assert outcomes("delivered") == delivered_before + 1


def test_a_failed_delivery_is_retried_with_the_same_id(receiver: Receiver, tenant: TenantCtx) -> None:
    registered(tenant.id, receiver.url)
    receiver.answer(500, 500)
    (delivery_id,) = emitted(tenant.id)

    deliver_until(lambda: delivery(delivery_id).status == DeliveryStatus.DELIVERED, "the third attempt to succeed")
    assert receiver.ids() == [delivery_id] * 3
    assert len({request.body for request in receiver.received}) == 1  # the same event each time
    sent = delivery(delivery_id)
    assert (sent.attempts, sent.response_status, sent.last_error) == (3, 200, None)


def test_a_redirect_is_a_failure_and_never_followed(receiver: Receiver, tenant: TenantCtx,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, webhook_max_attempts="1")
    registered(tenant.id, f"{receiver.url}/hook")
    receiver.answer(Reply(307, {"Location": f"{receiver.url}/elsewhere"}))
    (delivery_id,) = emitted(tenant.id)

    assert deliver_due(get_settings()) == {"redirect": 1}
    assert receiver.to("/elsewhere") == [] and len(receiver.to("/hook")) == 1
    failed = delivery(delivery_id)
    assert (failed.status, failed.response_status) == (DeliveryStatus.FAILED, 307)
    assert failed.last_error and "do not follow redirects" in failed.last_error and "/elsewhere" in failed.last_error


def test_a_lost_workers_delivery_is_sent_again_after_its_lease(receiver: Receiver, tenant: TenantCtx,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, webhook_lease_s="0.5")
    registered(tenant.id, receiver.url)
    (delivery_id,) = emitted(tenant.id)
    with session_scope() as session:  # a worker claims it, then dies before sending or recording
        assert [each.id for each in claim(session, settings=get_settings(), now=utcnow())] == [delivery_id]

    assert deliver_due(get_settings()) == {}  # leased: nobody else takes it yet
    deliver_until(lambda: delivery(delivery_id).status == DeliveryStatus.DELIVERED, "the lease to expire")
    assert receiver.ids() == [delivery_id]
    assert delivery(delivery_id).attempts == 2


def test_a_webhook_is_disabled_after_repeated_failures_saying_why(receiver: Receiver, tenant: TenantCtx,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, webhook_max_attempts="2", webhook_disable_after="2")
    webhook_id, _secret = registered(tenant.id, receiver.url)
    receiver.answer(*[Reply(503)] * 4)
    first, second = emitted(tenant.id, 2)

    deliver_until(lambda: not webhook(webhook_id).enabled, "the webhook to be disabled")
    disabled = webhook(webhook_id)
    assert disabled.consecutive_failures == 2
    assert disabled.disabled_reason and "2 deliveries in a row failed all 2 attempts" in disabled.disabled_reason
    assert "HTTP 503" in disabled.disabled_reason and "enabled: true" in disabled.disabled_reason
    assert [delivery(each).status for each in (first, second)] == [DeliveryStatus.FAILED] * 2
    assert sorted(receiver.ids()) == sorted([first, first, second, second])
    assert emitted(tenant.id) == []  # a disabled webhook gets no more events


def test_an_address_the_guard_refuses_is_not_sent_to(receiver: Receiver, tenant: TenantCtx,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked again at delivery: a URL registered while allowed (or a host that resolves elsewhere since)."""
    use_settings(monkeypatch, webhook_allow_private_addresses="false", webhook_max_attempts="1")
    registered(tenant.id, f"{receiver.url}/hook")
    (delivery_id,) = emitted(tenant.id)
    refused_before = outcomes("refused_address")

    assert deliver_due(get_settings()) == {"refused_address": 1}
    assert receiver.received == []
    refused = delivery(delivery_id)
    assert refused.status == DeliveryStatus.FAILED and refused.last_error
    assert "127.0.0.1 is a loopback address" in refused.last_error
    assert outcomes("refused_address") == refused_before + 1


def test_a_slow_receiver_times_out_and_is_retried(receiver: Receiver, tenant: TenantCtx,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, webhook_timeout_s="0.3", webhook_max_attempts="2")
    registered(tenant.id, receiver.url)
    receiver.answer(Reply(200, hold=threading.Event()))
    (delivery_id,) = emitted(tenant.id)

    assert deliver_due(get_settings()) == {"timeout": 1}
    waiting = delivery(delivery_id)
    assert waiting.status == DeliveryStatus.PENDING and waiting.last_error and "no answer within 0.3 s" in \
        waiting.last_error
    assert waiting.next_attempt_at - utcnow() < timedelta(seconds=1)
    deliver_until(lambda: delivery(delivery_id).status == DeliveryStatus.DELIVERED, "the retry")
    assert receiver.ids() == [delivery_id, delivery_id]


def test_one_event_goes_to_each_webhook_that_takes_it(receiver: Receiver, tenant: TenantCtx) -> None:
    registered(tenant.id, f"{receiver.url}/all")
    registered(tenant.id, f"{receiver.url}/endpoints", ["endpoint.status"])
    with session_scope() as session:
        emit(session, tenant_id=tenant.id, type=EventType.ENDPOINT_STATUS, data={"to": "ready"})
        emit(session, tenant_id=tenant.id, type=EventType.CHECKPOINT_CREATED, data={"step": 3})

    assert deliver_due(get_settings()) == {"delivered": 3}
    bodies = {path: sorted(json.loads(r.body)["type"] for r in receiver.to(path)) for path in ("/all", "/endpoints")}
    assert bodies == {"/all": ["checkpoint.created", "endpoint.status"], "/endpoints": ["endpoint.status"]}
    (to_all,) = [json.loads(r.body) for r in receiver.to("/all") if "endpoint" in r.body]
    (to_endpoints,) = [json.loads(r.body) for r in receiver.to("/endpoints")]
    assert to_all["event_id"] == to_endpoints["event_id"] and to_all["id"] != to_endpoints["id"]

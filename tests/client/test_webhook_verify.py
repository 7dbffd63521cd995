"""sanacloud.client.webhooks.verify accepts exactly what the platform signs: the right secret, the
body as sent, a fresh timestamp; anything else is refused."""

from __future__ import annotations

import json
import time

import pytest

from sanacloud.client.webhooks import InvalidSignature, verify
from sanacloud.platform.webhooks.signing import signed_headers, webhook_secret

SECRET = webhook_secret("platform-secret-key-0123456789-abcdefghij", "salt")
BODY = json.dumps({"id": "whd_1", "type": "job.status", "data": {"to": "succeeded"}})


def headers(at: int | None = None, body: str = BODY) -> dict[str, str]:
    return signed_headers(SECRET, delivery_id="whd_1", event_type="job.status", body=body,
                          timestamp=int(time.time()) if at is None else at)


def test_a_signed_delivery_verifies_and_reads() -> None:
    assert verify(SECRET, body=BODY.encode(), headers=headers()) == json.loads(BODY)
    lowered = {name.lower(): value for name, value in headers().items()}
    assert verify(SECRET, body=BODY, headers=lowered)["id"] == "whd_1"


def test_one_matching_signature_among_several_is_enough() -> None:
    signed = headers()
    signed["Sanacloud-Webhook-Signature"] = f"v1=deadbeef {signed['Sanacloud-Webhook-Signature']}"
    assert verify(SECRET, body=BODY, headers=signed)["type"] == "job.status"


@pytest.mark.parametrize(("change", "why"), [
    (lambda h, b: (h, b.replace("succeeded", "failed")), "does not match"),
    (lambda h, b: ({**h, "Sanacloud-Webhook-Timestamp": str(int(h["Sanacloud-Webhook-Timestamp"]) + 1)}, b),
     "does not match"),
    (lambda h, b: ({**h, "Sanacloud-Webhook-Signature": "v1=ü"}, b), "does not match"),
    (lambda h, b: ({k: v for k, v in h.items() if k != "Sanacloud-Webhook-Signature"}, b), "does not match"),
    (lambda h, b: ({k: v for k, v in h.items() if k != "Sanacloud-Webhook-Timestamp"}, b), "malformed"),
])
def test_a_changed_request_is_refused(change, why: str) -> None:  # type: ignore[no-untyped-def]
    changed_headers, changed_body = change(headers(), BODY)
    with pytest.raises(InvalidSignature, match=why):
        verify(SECRET, body=changed_body, headers=changed_headers)


def test_another_secret_or_an_old_request_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(webhook_secret("another platform key-0123456789-abcdefgh", "salt"), body=BODY, headers=headers())
    an_hour_ago = int(time.time()) - 3600
    with pytest.raises(InvalidSignature, match="more than 300 s"):
        verify(SECRET, body=BODY, headers=headers(an_hour_ago))
    assert verify(SECRET, body=BODY, headers=headers(an_hour_ago), tolerance_s=4000)["id"] == "whd_1"
    assert verify(SECRET, body=BODY, headers=headers(an_hour_ago), now=an_hour_ago + 10)["id"] == "whd_1"

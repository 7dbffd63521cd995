"""Check that a webhook request came from sanacloud, in the receiver (needs nothing but the standard library).

    from sanacloud.client.webhooks import verify

    event = verify(secret, body=request_body, headers=request_headers)  # raises InvalidSignature

The signature is HMAC-SHA256 over f"{timestamp}.{body}" keyed with the webhook's secret (the
`whsec_...` string shown once at creation), hex, in `Sanacloud-Webhook-Signature: v1=<hex>`;
the timestamp (Unix seconds) is `Sanacloud-Webhook-Timestamp`. `Sanacloud-Webhook-Id` (also the
body's `id`) is the same on every attempt of one delivery: deduplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

ID_HEADER = "sanacloud-webhook-id"
TIMESTAMP_HEADER = "sanacloud-webhook-timestamp"
SIGNATURE_HEADER = "sanacloud-webhook-signature"
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(Exception):
    """The request is not a sanacloud delivery signed with this secret, or it is too old or too new."""


def verify(secret: str, *, body: bytes | str, headers: Mapping[str, str], tolerance_s: float = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> dict[str, Any]:
    """The delivered event (the parsed body) when the signature and timestamp check out, else InvalidSignature.

    A timestamp more than `tolerance_s` from `now` (default: the current time) is refused, so that a
    captured request cannot be replayed later."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp, signatures = lowered.get(TIMESTAMP_HEADER, ""), lowered.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit():
        raise InvalidSignature(f"missing or malformed {TIMESTAMP_HEADER} header")
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        raise InvalidSignature(f"the timestamp is more than {tolerance_s:g} s away from now")
    text = body.decode() if isinstance(body, bytes) else body
    expected = hmac.new(secret.encode(), f"{timestamp}.{text}".encode(), hashlib.sha256).hexdigest()
    # Several space-separated v1= values may come (e.g. while a secret is replaced); one must match.
    offered = [part.removeprefix("v1=") for part in signatures.split() if part.startswith("v1=")]
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered):
        raise InvalidSignature("the signature does not match this secret and body")
    event: dict[str, Any] = json.loads(text)
    return event

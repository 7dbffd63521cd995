"""Webhook secrets and signatures.

A webhook's secret is not stored: it is derived from a random salt in its row and the platform's
secret key (HMAC-SHA256), so a copy of the database alone gives no secret away. Changing
SANACLOUD_SECRET_KEY changes every webhook's secret.

Each request is signed (the Stripe and Standard Webhooks scheme): the signature is
HMAC-SHA256(secret, f"{timestamp}.{body}") in hex, sent as `Sanacloud-Webhook-Signature: v1=<hex>`
beside `Sanacloud-Webhook-Timestamp` (Unix seconds of this attempt) and `Sanacloud-Webhook-Id` (the
delivery's id, the same on every attempt). sanacloud.client.webhooks.verify checks them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
ID_HEADER = "Sanacloud-Webhook-Id"
TIMESTAMP_HEADER = "Sanacloud-Webhook-Timestamp"
SIGNATURE_HEADER = "Sanacloud-Webhook-Signature"
EVENT_HEADER = "Sanacloud-Webhook-Event"


def new_salt() -> str:
    return secrets.token_hex(16)


def webhook_secret(platform_secret: str, salt: str) -> str:
    digest = hmac.new(platform_secret.encode(), f"sanacloud webhook secret\n{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp: int, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def signed_headers(secret: str, *, delivery_id: str, event_type: str, body: str, timestamp: int) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "sanacloud-webhooks/1", ID_HEADER: delivery_id,
            EVENT_HEADER: event_type, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"v1={signature(secret, timestamp, body)}"}

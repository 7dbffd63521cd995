"""Secrets: API key generation and hashing, and HMAC-signed expiring URLs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

KEY_PREFIX = "sk"


@dataclass(frozen=True)
class NewApiKey:
    plaintext: str  # shown to the user once, never stored
    prefix: str  # stored, used to find the key's row
    key_hash: str  # stored


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, key_hash=hash_api_key(plaintext))


def hash_api_key(plaintext: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; no password stretching needed.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_api_key_prefix(plaintext: str) -> str | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1]:
        return None
    return parts[1]


def api_key_matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(plaintext), key_hash)


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_object_query(secret: str, method: str, key: str, expires_s: int) -> dict[str, str]:
    """Query parameters that let the holder `method` (GET or PUT) one object until they expire."""
    expires = str(int(time.time()) + expires_s)
    return {"expires": expires, "signature": sign(secret, f"{method}\n{key}\n{expires}")}


def object_signature_problem(secret: str, method: str, key: str, expires: str, signature: str) -> str | None:
    """Why a signed object URL may not be used now, or None when it may."""
    if not expires.isdigit():
        return "the URL's expiry is malformed; ask the API for a new URL"
    if int(expires) < time.time():
        return "the URL has expired; ask the API for a new one"
    if not hmac.compare_digest(sign(secret, f"{method}\n{key}\n{expires}"), signature):
        return f"the URL's signature is invalid for {method} of this object"
    return None

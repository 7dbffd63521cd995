"""`Idempotency-Key`: the same key and body within the TTL give back the resource first created.

The key's row is inserted in the same transaction as the resource, inside a savepoint: a
concurrent request with the same key waits on the unique index, then finds the winner's row.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import IdempotencyKey
from sanacloud.platform.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 255


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")
    return key


def find(session: Session, *, tenant_id: str, scope: str, key: str, body_hash: str) -> str | None:
    """The id of the resource this key already created, or None if the key is new (or expired)."""
    row = session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    if row is None:
        return None
    if row.expires_at < utcnow():
        session.delete(row)
        session.flush()
        return None
    if row.request_hash != body_hash:
        raise InvalidInput("this Idempotency-Key was used with a different request body; use a new key "
                           "for a different request")
    return row.resource_id


def claim(session: Session, *, tenant_id: str, scope: str, key: str, body_hash: str, resource_id: str,
          ttl_s: int) -> str:
    """Record that `key` created `resource_id`; returns the id that owns the key (another
    request's, if it won a race), in which case the caller must drop its own resource."""
    now = utcnow()
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(tenant_id=tenant_id, scope=scope, key=key, request_hash=body_hash,
                                       resource_id=resource_id, created_at=now,
                                       expires_at=now + timedelta(seconds=ttl_s)))
    except IntegrityError:
        winner = find(session, tenant_id=tenant_id, scope=scope, key=key, body_hash=body_hash)
        if winner is None:
            raise Conflict("a concurrent request with this Idempotency-Key is still in progress; retry") from None
        return winner
    return resource_id


def owner(session: Session, *, tenant_id: str, scope: str, key: str, body: Any, resource_id: str,
          ttl_s: int) -> str:
    """The id of the resource a request with this key and body stands for: `resource_id` when the
    key is new (now claimed for it), else the one it created first."""
    key = validate_key(key)
    body_hash = request_hash(body)
    return find(session, tenant_id=tenant_id, scope=scope, key=key, body_hash=body_hash) or claim(
        session, tenant_id=tenant_id, scope=scope, key=key, body_hash=body_hash, resource_id=resource_id, ttl_s=ttl_s)


def purge_expired(session: Session) -> int:
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)

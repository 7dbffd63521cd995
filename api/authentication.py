"""Who is calling: every `/v1` request is authenticated, and rate limited, before its route runs.

Done as middleware, before anything reads the request's body, so that a client without a valid key
cannot make the API receive and parse one. The key is looked up in a short transaction of its own:
a route's transaction never waits on the key's row, and holds no pooled connection while the key is
checked. The principal found travels to the route in the ASGI scope (`deps.get_principal`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from sanacloud.api.errors import domain_problem
from sanacloud.api.rate_limit import RateLimiter
from sanacloud.platform import accounts
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.busy import as_busy
from sanacloud.platform.db.models import ApiKey, Role, Tenant, TenantStatus
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import DomainError, Forbidden, Unauthorized
from sanacloud.platform.security import api_key_matches, parse_api_key_prefix

log = logging.getLogger(__name__)
# Presigned object URLs carry their own signature instead of a key.
KEYLESS_PREFIXES = ("/v1/objects/",)
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    tenant_id: str | None
    member_id: str | None


def needs_key(path: str) -> bool:
    return path.startswith("/v1/") and not path.startswith(KEYLESS_PREFIXES)


def bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    return token.strip()


class KeyUseRecorder:
    """Records each key's `last_used_at` at most once per resolution, without ever waiting for it.

    In this process one request per key records it while the others go on; across processes the
    row is skipped when another transaction holds it (`accounts.record_key_use`).
    """

    def __init__(self) -> None:
        self._recording: set[str] = set()
        self._lock = threading.Lock()

    def saw(self, key: ApiKey) -> None:
        now = utcnow()
        if key.last_used_at is not None and now - key.last_used_at <= LAST_USED_RESOLUTION:
            return
        with self._lock:
            if key.id in self._recording:
                return
            self._recording.add(key.id)
        try:
            with session_scope() as session:
                accounts.record_key_use(session, key_id=key.id, now=now, resolution=LAST_USED_RESOLUTION)
        except SQLAlchemyError:  # bookkeeping never fails the request it notes
            log.warning("could not record the use of API key %s", key.id, exc_info=True)
        finally:
            with self._lock:
                self._recording.discard(key.id)


def authenticate(authorization: str, recorder: KeyUseRecorder) -> Principal:
    token = bearer_token(authorization)
    prefix = parse_api_key_prefix(token)
    with session_scope() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
        if key is None or not api_key_matches(token, key.key_hash) or key.revoked_at is not None:
            raise Unauthorized("invalid or revoked API key")
        if key.tenant_id is not None:
            tenant = session.get(Tenant, key.tenant_id)
            if tenant is None or tenant.status != TenantStatus.ACTIVE:
                raise Forbidden("this API key's tenant is disabled; ask a platform admin")
    recorder.saw(key)
    return Principal(key_id=key.id, role=Role(key.role), tenant_id=key.tenant_id, member_id=key.member_id)


class Authenticate:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self.recorder = KeyUseRecorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await run_in_threadpool(authenticate, request.headers.get("authorization", ""),
                                                self.recorder)
            self.limiter.take(principal.key_id)
        except (DomainError, SQLAlchemyError) as error:
            refusal = error if isinstance(error, DomainError) else as_busy(error)
            if refusal is None:
                raise
            await domain_problem(request, refusal, closing=True)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

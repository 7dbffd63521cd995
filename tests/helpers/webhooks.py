"""A real HTTP receiver of webhook deliveries on loopback (http.server in a thread), scripted per
request, and the settings that let the platform send to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from sanacloud.platform.db.models import Webhook, WebhookDelivery
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.settings import get_settings
from sanacloud.platform.webhooks.events import EventType, emit
from sanacloud.platform.webhooks.signing import new_salt, webhook_secret
from tests.helpers.backends import reset_caches
from tests.helpers.deadlines import scaled

ALLOW_PRIVATE = {"SANACLOUD_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def delivery_id(self) -> str:
        return self.headers["sanacloud-webhook-id"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once this is set (or the client has gone)


class Receiver:
    """Records every request; answers each with the next scripted `Reply`, then 200s."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.received: list[Received] = []
        self.script: list[Reply] = []  # still to answer
        self.scripted: list[Reply] = []  # every reply given to answer()
        self.lock = threading.Lock()  # handler threads record at once

    def answer(self, *replies: Reply | int) -> None:
        self.scripted.extend(reply if isinstance(reply, Reply) else Reply(reply) for reply in replies)
        self.script.extend(reply if isinstance(reply, Reply) else Reply(reply) for reply in replies)

    def release(self) -> None:
        """Every held request answers now."""
        for reply in self.scripted:
            if reply.hold is not None:
                reply.hold.set()

    def to(self, path: str) -> list[Received]:
        return [each for each in self.received if each.path == path]

    def ids(self) -> list[str]:
        return [each.delivery_id for each in self.received]

    def record(self, received: Received) -> Reply:
        with self.lock:
            self.received.append(received)
            return self.script.pop(0) if self.script else Reply()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            reply = receiver.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if reply.hold is not None:
                reply.hold.wait(scaled(120))
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if reply.status >= 300 else b"ok")
            except OSError:  # the sender is gone (a killed worker)
                pass

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()


def use_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Settings for the rest of the test (names without the prefix), the platform's caches cleared."""
    for name, value in values.items():
        monkeypatch.setenv(f"SANACLOUD_{name.upper()}", value)
    reset_caches()


def registered(tenant_id: str, url: str, events: list[str] | None = None, *, enabled: bool = True) -> tuple[str, str]:
    """A webhook of the tenant written straight to the database (the API checks URLs; this does not):
    its id and its secret."""
    with session_scope() as session:
        webhook = Webhook(tenant_id=tenant_id, url=url, events=events or [str(e) for e in EventType],
                          secret_salt=new_salt(), enabled=enabled)
        session.add(webhook)
        session.flush()
        return webhook.id, webhook_secret(get_settings().effective_secret_key, webhook.secret_salt)


def emitted(tenant_id: str, count: int = 1, type: EventType = EventType.JOB_STATUS) -> list[str]:
    """`count` events emitted and committed: the ids of the deliveries they wrote."""
    with session_scope() as session:
        return [delivery.id for n in range(count)
                for delivery in emit(session, tenant_id=tenant_id, type=type, data={"n": n})]


def delivery(delivery_id: str) -> WebhookDelivery:
    with session_scope() as session:
        return session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)).one()


def webhook(webhook_id: str) -> Webhook:
    with session_scope() as session:
        return session.get_one(Webhook, webhook_id)

"""The in-memory API server (fake_kube.py) on a loopback port, for processes other than the test's
own: an executor worker calls it as it would call a real API server (SANACLOUD_KUBERNETES_API_URL).
Requests are answered one at a time; the test takes the same lock to read or change the fake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.helpers.fake_kube import FakeKube

HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


@dataclass
class Served:
    fake: FakeKube
    url: str
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def serving(fake: FakeKube) -> Iterator[Served]:
    served = Served(fake, "")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = httpx.Request(self.command, f"http://kubernetes{self.path}", headers=dict(self.headers),
                                    content=self.rfile.read(length) if length else b"")
            with served.lock:
                response = fake.transport.handle_request(request)
                body = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="fake-kube", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

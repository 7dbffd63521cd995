"""When `sanacloud up` says it is up: once the API answers /readyz and the workers consume their
queues, so that the URL and the key are the last lines on the screen and work when copied."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
import uvicorn

from sanacloud.cli.children import Child
from sanacloud.cli.messages import error

API_READY_S = 120.0
WORKERS_READY_S = 120.0  # then the banner says they are still starting, and a line follows once they are
POLL_S = 0.25


@dataclass(frozen=True)
class Banner:
    url: str
    tenant: str
    api_key: str
    data_dir: Path
    logs: Path

    def text(self, workers: str) -> str:
        return (f"sanacloud is up at {self.url}  (dashboard: {self.url}/dashboard/, API docs: {self.url}/docs)\n"
                f"  tenant:  {self.tenant}\n  API key: {self.api_key}\n"
                f"  data:    {self.data_dir}\n  logs:    {self.logs}\n  workers: {workers}\n"
                f"next:    sanacloud login --url {self.url} --api-key {self.api_key}\n"
                "Ctrl-C stops it.")


class Announcer(threading.Thread):
    """Prints the banner once the platform is ready, then reports any of its processes that stops."""

    def __init__(self, server: uvicorn.Server, children: list[Child], banner: Banner) -> None:
        super().__init__(name="announcer", daemon=True)
        self.server, self.children, self.banner = server, children, banner

    def run(self) -> None:
        if not self._wait(self._api_answers, API_READY_S):
            if self._going_on():
                error(f"the API did not answer {self.banner.url}/readyz within {API_READY_S:.0f} s "
                      f"(see {self.banner.logs / 'api.log'})")
        elif self._wait(self._workers_ready, WORKERS_READY_S):
            typer.echo(self.banner.text("ready."))
        elif self._going_on():
            typer.echo(self.banner.text(f"still starting (see {self.banner.logs})"))
            if self._wait(self._workers_ready, math.inf):
                typer.echo("workers: ready.")
        self._report_stops()

    def _api_answers(self) -> bool:
        if not self.server.started:
            return False
        try:
            return httpx.get(f"{self.banner.url}/readyz", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def _workers_ready(self) -> bool:
        return all(child.ready() for child in self.children if child.is_worker)

    def _going_on(self) -> bool:
        """Neither is `up` stopping nor has any of its processes stopped."""
        return not self.server.should_exit and all(child.process.poll() is None for child in self.children)

    def _wait(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        ends = time.monotonic() + timeout_s
        while self._going_on() and time.monotonic() < ends:
            if condition():
                return True
            time.sleep(POLL_S)
        return False

    def _report_stops(self) -> None:
        running = list(self.children)
        while running and not self.server.should_exit:
            for child in [child for child in running if child.process.poll() is not None]:
                error(f"the {child.name} stopped with exit code {child.process.returncode} (see {child.log}); "
                      "restart `sanacloud up`")
                running.remove(child)
            time.sleep(POLL_S)

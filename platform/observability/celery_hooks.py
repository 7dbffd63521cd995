"""Celery's side of observability: request ids from the API to the worker's log lines, the
platform's log format in workers, and a worker's metrics (multiprocess bookkeeping, an exporter)."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from prometheus_client import start_http_server

from sanacloud.platform.observability.logs import REQUEST_ID, install_request_ids, restyle
from sanacloud.platform.observability.metrics import process_exited
from sanacloud.platform.observability.registry import process_registry
from sanacloud.platform.settings import Settings

REQUEST_ID_TASK_HEADER = "sanacloud_request_id"  # a message header; the worker sees it on task.request


def _send_request_id(headers: dict[str, Any] | None = None, **_: object) -> None:
    request_id = REQUEST_ID.get()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_TASK_HEADER, request_id)


def _take_request_id(task: Any = None, **_: object) -> None:
    REQUEST_ID.set(getattr(getattr(task, "request", None), REQUEST_ID_TASK_HEADER, None))


def _drop_request_id(**_: object) -> None:
    REQUEST_ID.set(None)


def carry_request_ids() -> None:
    """Tasks sent by this process carry the request id of the request that sent them; tasks run by
    this process log with the id they carry. Idempotent (the signals' dispatch_uid)."""
    install_request_ids()
    signals.before_task_publish.connect(_send_request_id, weak=False, dispatch_uid="sanacloud-request-id-send")
    signals.task_prerun.connect(_take_request_id, weak=False, dispatch_uid="sanacloud-request-id-take")
    signals.task_postrun.connect(_drop_request_id, weak=False, dispatch_uid="sanacloud-request-id-drop")


def observe_worker(settings: Settings) -> None:
    """A worker process's logs in the platform's format with request ids, and its metrics."""
    carry_request_ids()

    def style(logger: logging.Logger, **_: object) -> None:
        restyle(logger, settings.log_format)

    def serve_metrics(**_: object) -> None:  # the worker's main process, before its pool starts
        if settings.metrics_port:
            start_http_server(settings.metrics_port, registry=process_registry())

    def child_exited(pid: int | None = None, **_: object) -> None:
        process_exited(pid)

    for signal, receiver in ((signals.after_setup_logger, style), (signals.after_setup_task_logger, style),
                             (signals.worker_init, serve_metrics),
                             # a prefork pool's child as it exits, and the worker itself
                             (signals.worker_process_shutdown, child_exited), (signals.worker_shutdown, child_exited)):
        signal.connect(receiver, weak=False, dispatch_uid=f"sanacloud-{signal.name}")

"""Request ids on log lines, and one JSON object per line as an option (SANACLOUD_LOG_FORMAT=json).

The API puts the id of the request it is handling into `REQUEST_ID` (api/headers.py); a Celery
task sent while handling it carries the id in its headers, and the worker sets it again while the
task runs (`celery_hooks`). Every log record made meanwhile gets it as `record.request_id` (the
record factory `install_request_ids` puts in place), whichever logger made it.

The formatters here are what every process of the platform logs with: text (the classic line, with
`request_id=...` appended when there is one) or JSON.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "[%(asctime)s: %(levelname)s/%(name)s] %(message)s"
REQUEST_ID: ContextVar[str | None] = ContextVar("sanacloud_request_id", default=None)


def install_request_ids() -> None:
    """Every log record made from now on carries `request_id` (None outside a request). Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    make_record.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def record_request_id(record: logging.LogRecord) -> str | None:
    # A record made before install_request_ids has none of its own: the context's, as it is formatted now.
    return getattr(record, "request_id", None) or REQUEST_ID.get()


class WithRequestId(logging.Formatter):
    """Another formatter's line, with ` request_id=<id>` at its end when the record has one."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        request_id = record_request_id(record)
        return f"{line} request_id={request_id}" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, and request_id
    and exception (the traceback's text) when there are."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        request_id = record_request_id(record)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_formatter(log_format: LogFormat, fmt: str = TEXT_FORMAT) -> logging.Formatter:
    """The formatter of `log_format`; `fmt` is the text line's. Usable in dictConfig as a factory ("()")."""
    return JsonFormatter() if log_format == "json" else WithRequestId(logging.Formatter(fmt))


def formatter_config(log_format: LogFormat, fmt: str = TEXT_FORMAT) -> dict[str, str]:
    """A dictConfig formatter entry for `make_formatter`."""
    return {"()": f"{__name__}.make_formatter", "log_format": log_format, "fmt": fmt}


def server_logging(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for a server process (uvicorn's `log_config`): every logger, uvicorn's access
    log among them, through one handler on standard error, in `log_format`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter_config(log_format)},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error",
                                                                             "uvicorn.access")},
        "root": {"handlers": ["stderr"], "level": level},
    }


def restyle(logger: logging.Logger, log_format: LogFormat) -> None:
    """Give the handlers another library set up (Celery's) the platform's format: JSON in place of
    their formatter, or theirs with the request id appended."""
    for handler in logger.handlers:
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
        elif not isinstance(handler.formatter, WithRequestId):
            handler.setFormatter(WithRequestId(handler.formatter or logging.Formatter()))


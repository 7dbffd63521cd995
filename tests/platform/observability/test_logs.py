"""The log formats: JSON objects with the request id and the exception's text, the text line with
the id appended; a server process's logging config; Celery's handlers restyled."""

from __future__ import annotations

import contextvars
import json
import logging
import subprocess
import sys
from datetime import datetime

from sanacloud.platform.observability.logs import REQUEST_ID, install_request_ids, make_formatter, restyle
from tests.helpers.deadlines import scaled


def record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    install_request_ids()
    return logging.getLogger("tests.logs").makeRecord(
        "tests.logs", logging.ERROR, __file__, 1, message, args, sys.exc_info() if exc_info else None)


def in_request(request_id: str | None) -> logging.LogRecord:
    """A record made while handling the request of that id (or none)."""
    def made() -> logging.LogRecord:
        REQUEST_ID.set(request_id)
        return record("job %s failed", "job_1")
    return contextvars.copy_context().run(made)


def test_a_json_line_has_the_fields_and_the_request_id() -> None:
    line = json.loads(make_formatter("json").format(in_request("req_abc")))
    assert line.keys() == {"timestamp", "level", "logger", "message", "request_id"}
    assert (line["level"], line["logger"], line["message"], line["request_id"]) == (
        "ERROR", "tests.logs", "job job_1 failed", "req_abc")
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert "request_id" not in json.loads(make_formatter("json").format(in_request(None)))


def test_a_json_line_carries_the_exception_s_text() -> None:
    try:
        raise ValueError("bad \"value\"\nsecond line")
    except ValueError:
        made = record("it failed", exc_info=True)
    line = json.loads(make_formatter("json").format(made))
    assert line["message"] == "it failed"
    assert line["exception"].startswith("Traceback") and 'ValueError: bad "value"\nsecond line' in line["exception"]


def test_the_text_line_ends_with_the_request_id_when_there_is_one() -> None:
    text = make_formatter("text", "%(levelname)s %(name)s: %(message)s")
    assert text.format(in_request("req_abc")) == "ERROR tests.logs: job job_1 failed request_id=req_abc"
    assert text.format(in_request(None)) == "ERROR tests.logs: job job_1 failed"


def test_the_request_id_is_the_one_when_the_record_was_made() -> None:
    made = in_request("req_then")
    REQUEST_ID.set(None)
    assert json.loads(make_formatter("json").format(made))["request_id"] == "req_then"


def test_restyle_gives_another_library_s_handlers_the_format() -> None:
    logger = logging.Logger("tests.celery")  # not registered: nothing global changes
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.addHandler(handler)
    restyle(logger, "text")
    restyle(logger, "text")  # twice: the id once
    assert handler.format(in_request("req_1")) == "[ERROR] job job_1 failed request_id=req_1"
    restyle(logger, "json")
    assert json.loads(handler.format(in_request("req_1")))["request_id"] == "req_1"


SERVER = """
import logging, logging.config
from sanacloud.platform.observability.logs import REQUEST_ID, install_request_ids, server_logging
logging.config.dictConfig(server_logging("json"))
install_request_ids()
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "127.0.0.1:5", "GET", "/healthz", 200)
REQUEST_ID.set("req_9")
logging.getLogger("sanacloud.api").warning("in a request")
logging.getLogger("sanacloud.api").debug("below the level")
"""


def test_a_server_process_logs_json_lines_on_standard_error() -> None:
    done = subprocess.run([sys.executable, "-c", SERVER], capture_output=True, text=True, timeout=scaled(60))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["message"], line.get("request_id")) for line in lines] == [
        ("uvicorn.access", '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200', None),
        ("sanacloud.api", "in a request", "req_9")]

"""X-Request-Id: echoed when the caller's is sane, generated otherwise; on every log line written
while the request is handled (in the route's thread too), and on the tasks it sends."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sanacloud.platform import queues
from sanacloud.platform.observability.logs import make_formatter
from tests.helpers.api import lora_job, ready_dataset, submit
from tests.helpers.backends import Backend, TenantCtx, data_dir

GENERATED = re.compile(r"req_[0-9a-f]{32}")


@pytest.mark.parametrize("given", ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "Root=1-5759e988:x/y+z.",
                                   "r" * 128])
def test_a_sane_request_id_is_echoed(client: TestClient, given: str) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-Id"] == given


def test_a_request_id_is_generated_when_none_is_given(client: TestClient) -> None:
    first, second = (client.get("/healthz").headers["X-Request-Id"] for _ in range(2))
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


@pytest.mark.parametrize("given", ["r" * 129, "has space", "<script>", "new\tline", "ünïcode", ""])
def test_an_insane_request_id_is_replaced(client: TestClient, given: str) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})  # type: ignore[dict-item]
    assert GENERATED.fullmatch(answered.headers["X-Request-Id"])


def test_two_request_ids_are_replaced(client: TestClient) -> None:
    answered = client.get("/healthz", headers=[("X-Request-ID", "a"), ("X-Request-ID", "b")])
    assert GENERATED.fullmatch(answered.headers["X-Request-Id"])


def test_an_error_response_carries_the_given_id(client: TestClient) -> None:
    answered = client.get("/v1/jobs", headers={"X-Request-ID": "caller-7"})
    assert answered.status_code == 401 and answered.headers["X-Request-Id"] == "caller-7"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the `tests.request` logger writes, in the JSON format."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(make_formatter("json"))
    logger = logging.getLogger("tests.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def test_a_json_log_line_of_a_request_carries_its_id(client: TestClient, json_lines: io.StringIO) -> None:
    app = client.app

    @app.get("/test-logs-sync")  # type: ignore[attr-defined, untyped-decorator]
    def logs_in_a_thread() -> dict[str, str]:
        logging.getLogger("tests.request").info("handled %s", "in a thread")
        return {}

    @app.get("/test-logs-async")  # type: ignore[attr-defined, untyped-decorator]
    async def logs_in_the_loop() -> dict[str, str]:
        logging.getLogger("tests.request").info("handled %s", "in the loop")
        return {}

    client.get("/test-logs-sync", headers={"X-Request-ID": "given-1"})
    generated = client.get("/test-logs-async").headers["X-Request-Id"]
    logging.getLogger("tests.request").info("outside any request")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert [(line["message"], line.get("request_id")) for line in lines] == [
        ("handled in a thread", "given-1"), ("handled in the loop", generated), ("outside any request", None)]
    assert {line["level"] for line in lines} == {"INFO"} and {line["logger"] for line in lines} == {"tests.request"}


def test_a_task_sent_by_a_request_carries_its_id(client: TestClient, tenant: TenantCtx, configured: Backend) -> None:
    queues.producer.cache_clear()  # cached with the first test's settings: send to this test's broker folder
    try:
        dataset_id = ready_dataset(client, tenant, images=1)
        created = submit(client, tenant, lora_job(dataset_id), **{"X-Request-ID": "submit-42"})
        assert created.status_code == 201 and created.json()["status"] == "admitted"
    finally:
        queues.producer.cache_clear()
    sent = [json.loads(path.read_text()) for path in Path(data_dir(configured), "broker", "queue").glob("*.msg")]
    mine = [message for message in sent if message["headers"].get("sanacloud_request_id") == "submit-42"]
    assert [message["headers"]["argsrepr"] for message in mine] == [repr([created.json()["id"], 1])]

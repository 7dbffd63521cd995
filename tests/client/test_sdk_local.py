"""What the SDK settles before or after the network: what an upload sends, and answers it cannot read."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sanacloud.client import Client, InvalidUpload, UnreadableResponse
from sanacloud.client.uploads import UploadProgress, collect_files, multipart_body


def test_an_upload_names_files_relative_to_its_folder_and_refuses_what_it_cannot_send(tmp_path: Path) -> None:
    (tmp_path / "set" / "sub").mkdir(parents=True)
    (tmp_path / "set" / "a.png").write_bytes(b"a")
    (tmp_path / "set" / "sub" / "b.txt").write_text("b")
    (tmp_path / "one.zip").write_bytes(b"z")
    files = collect_files([tmp_path / "set", str(tmp_path / "one.zip")])
    assert [f.name for f in files] == ["a.png", "sub/b.txt", "one.zip"]

    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidUpload, match="holds no files"):
        collect_files(tmp_path / "empty")
    with pytest.raises(InvalidUpload, match="neither a file nor a folder"):
        collect_files(tmp_path / "missing")


def test_the_multipart_body_is_as_long_as_it_says_and_reports_each_byte(tmp_path: Path) -> None:
    (tmp_path / 'quo"te.png').write_bytes(b"x" * 300_000)
    (tmp_path / "b.txt").write_text("caption")
    seen: list[UploadProgress] = []
    body = multipart_body(collect_files(tmp_path), seen.append)
    sent = b"".join(body.chunks)
    assert len(sent) == body.length == seen[-1].sent_bytes == seen[-1].total_bytes
    assert (seen[-1].files, seen[-1].total_files) == (2, 2)
    assert b'filename="quo%22te.png"' in sent and sent.endswith(b"--\r\n")


def test_an_answer_not_shaped_as_the_sdk_expects_is_its_own_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "ds_1"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http, \
            Client("http://api.test", "sk_x", http_client=http) as client, \
            pytest.raises(UnreadableResponse, match="GET /v1/datasets/ds_1"):
        client.datasets.retrieve("ds_1")

"""The OpenAPI document, compared exactly with the one checked in (tests/api/openapi.json), so that
every change to the API (a path, a field, a bound, an operation id, a description) shows as a diff
in review, and clients generated from the document change only when that file does.

After an intended change, refresh the file and read its diff:

    SANACLOUD_TEST_UPDATE_OPENAPI=1 .venv/bin/python -m pytest tests/api/test_openapi_snapshot.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from sanacloud.api.app import create_app
from tests.helpers.backends import reset_caches

SNAPSHOT = Path(__file__).with_name("openapi.json")
UPDATE = "SANACLOUD_TEST_UPDATE_OPENAPI"
REFRESH = f"{UPDATE}=1 .venv/bin/python -m pytest tests/api/test_openapi_snapshot.py"


def current_document(data_dir: Path) -> str:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SANACLOUD_DATA_DIR", str(data_dir))
        reset_caches()
        document = create_app().openapi()
    reset_caches()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_the_openapi_document_is_the_one_checked_in(tmp_path: Path) -> None:
    document = current_document(tmp_path)
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.write_text(document)
    diff = list(difflib.unified_diff(SNAPSHOT.read_text().splitlines(), document.splitlines(),
                                     "tests/api/openapi.json", "the API now", lineterm="", n=2))
    assert not diff, f"the API's OpenAPI document changed; if intended, refresh it: {REFRESH}\n" + "\n".join(diff[:200])

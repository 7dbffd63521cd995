"""Worker tests run against the same two backends as the API tests (their fixtures, reused)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import (  # noqa: F401  (fixtures)
    admin_headers,
    backend,
    client,
    configured,
    make_tenant,
    reset_caches,
    tenant,
)
from tests.deadlines import scaled


@pytest.fixture
def worker_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quick heartbeats, so that cancel and preemption show within seconds; a preempted trainer has a
    generous grace to write its checkpoint on a busy machine (a cancel does not wait for it)."""
    request.getfixturevalue("configured")
    monkeypatch.setenv("SANACLOUD_HEARTBEAT_S", "0.3")
    monkeypatch.setenv("SANACLOUD_STOP_GRACE_S", str(scaled(60)))
    reset_caches()
    yield
    reset_caches()

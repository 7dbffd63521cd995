"""The one conftest: it registers the fixtures of tests/helpers/ for every test package, and scales
pytest-timeout's limits. Helpers and fixtures live in tests/helpers/; test modules import helpers
from there, never from each other."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.helpers")

from tests.helpers.deadlines import time_scale  # noqa: E402  (after the hook, so that the helpers' asserts are rewritten)

pytest_plugins = [
    "tests.helpers.services",
    "tests.helpers.backends",
    "tests.helpers.workers",
    "tests.helpers.serving",
    "tests.helpers.trainer",
    "tests.helpers.dashboard",
    "tests.helpers.fake_kube",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout's limits (the ini default and each test's own mark) follow the time scale."""
    scale = time_scale()
    if scale == 1:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        limit = float(marker.args[0]) if marker and marker.args else default
        if limit:
            item.add_marker(pytest.mark.timeout(limit * scale), append=False)

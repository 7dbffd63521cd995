"""One tenant-name rule: the API's schema refuses exactly the names the platform (and so the CLI) refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sanacloud.api.admin.schemas import TenantCreate
from sanacloud.platform.accounts import check_tenant_name
from sanacloud.platform.errors import InvalidInput


def platform_accepts(name: str) -> bool:
    try:
        check_tenant_name(name)
    except InvalidInput:
        return False
    return True


def api_accepts(name: str) -> bool:
    try:
        TenantCreate(name=name)
    except ValidationError:
        return False
    return True


@given(st.text(alphabet="abcz09-_A. ", max_size=70))
def test_the_api_and_the_platform_accept_the_same_names(name: str) -> None:
    assert api_accepts(name) == platform_accepts(name)


@pytest.mark.parametrize(("name", "allowed"), [
    ("acme", True), ("a", True), ("acme-2", True), ("a" * 63, True),
    ("Acme", False), ("acme corp", False), ("acme_2", False), ("-acme", False), ("acme-", False), ("", False),
    ("a" * 64, False), ("acme\n", False),
])
def test_names_are_dns_labels(name: str, allowed: bool) -> None:
    assert platform_accepts(name) == allowed

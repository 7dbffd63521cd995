"""One rule for tenant and pool names: the API's schema refuses exactly the names the platform (and so
the CLI) refuses, and a pool cannot be named what no queue or Kubernetes object may be called."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sanacloud.api.admin.schemas import TenantCreate
from sanacloud.platform.accounts import check_name
from sanacloud.platform.errors import InvalidInput


def platform_accepts(name: str) -> bool:
    try:
        check_name("tenant", name)
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


def test_a_pool_named_against_the_rule_is_refused_with_the_rule() -> None:
    from sanacloud.platform.accounts import NAME_RULE, upsert_pool

    with pytest.raises(InvalidInput, match=f"pool name 'GPU pool' is not allowed: use {NAME_RULE}"):
        upsert_pool(None, name="GPU pool", gpu_type="h100", capacity_gpus=1)  # type: ignore[arg-type]

"""The collector is held off during ticks and given back as found: enabled after the last of
overlapping ticks, still disabled if someone else had disabled it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sanacloud.platform.scheduler.collector import collection_deferred


@pytest.fixture(autouse=True)
def collector_enabled_after() -> Iterator[None]:
    yield
    gc.enable()


def test_overlapping_ticks_enable_it_again_when_the_last_ends() -> None:
    with collection_deferred():
        assert not gc.isenabled()
        with collection_deferred():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_tick_that_raises_enables_it_again() -> None:
    with pytest.raises(RuntimeError), collection_deferred():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_by_someone_else_stays_disabled() -> None:
    gc.disable()
    with collection_deferred():
        assert not gc.isenabled()
    assert not gc.isenabled()

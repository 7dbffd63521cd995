"""What a scrape collects: the processes' own metrics, summed over every process in multiprocess
mode, and in the API also the state read from the database and the broker."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sanacloud.platform.observability.metrics import multiprocess_dir
from sanacloud.platform.observability.platform_state import PlatformState
from sanacloud.platform.observability.queue_depth import QueueDepth
from sanacloud.platform.settings import Settings


class ThisProcess(Collector):
    """The default registry's metrics: every metric this process defined, in whichever module."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def process_registry() -> CollectorRegistry:
    """Every process's counters and histograms: from the shared folder in multiprocess mode (which
    holds no per-process metrics such as CPU time), else this process's own."""
    registry = CollectorRegistry()
    folder = multiprocess_dir()
    if folder is not None:
        MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    else:
        registry.register(ThisProcess())
    return registry


def api_registry(settings: Settings) -> CollectorRegistry:
    """What the API's /metrics serves: the processes' metrics, and the platform's state at scrape time."""
    registry = process_registry()
    registry.register(PlatformState(settings.metrics_timeout_s))
    registry.register(QueueDepth(settings))
    return registry

"""Messages waiting in each Celery queue, read from the broker at scrape time.

A `queue_declare` answers with the queue's message count: passive on RabbitMQ (where a queue the
broker does not know, never declared, has none waiting); on Redis and the embedded filesystem
transport, where a declare creates nothing and only counts (the queue's list, or its files), a
plain one (kombu's passive check on Redis misses keys under SANACLOUD_BROKER_KEY_PREFIX).

The queues are `maintenance`, and `train.<pool>` and `infer.<pool>` of every pool; the Kubernetes
executor's per-model inference queues (`infer.<pool>.<model>`) are not read (one series per
served model).

The read runs on a thread of its own with a deadline: a broker that is down or hangs costs a
scrape `metrics_timeout_s` and an error count, never the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from kombu.connection import Connection
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from sanacloud.platform.db.models import GpuPool
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.observability.metrics import SCRAPE_ERRORS
from sanacloud.platform.observability.platform_state import bound_statements
from sanacloud.platform.queues import MAINTENANCE_QUEUE, celery_config, infer_queue, train_queue
from sanacloud.platform.settings import Settings

log = logging.getLogger(__name__)


def queue_names(timeout_s: float) -> list[str]:
    """Every queue to read; only `maintenance` while the database cannot say which pools there are."""
    try:
        with session_scope() as session:
            bound_statements(session, timeout_s)
            pools = list(session.scalars(select(GpuPool.name).order_by(GpuPool.name)))
    except SQLAlchemyError:
        log.debug("metrics: no pools from the database; reading the maintenance queue only", exc_info=True)
        pools = []
    return [MAINTENANCE_QUEUE] + [name for pool in pools for name in (train_queue(pool), infer_queue(pool))]


def read_depths(settings: Settings, queues: list[str], timeout_s: float) -> dict[str, int]:
    config = celery_config(settings)
    # Redis's socket timeouts and py-amqp's; each transport ignores the other's.
    options = {**config["broker_transport_options"], "socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
               "read_timeout": timeout_s, "write_timeout": timeout_s}
    depths = {}
    with Connection(config["broker_url"], transport_options=options,  # type: ignore[no-untyped-call]
                    connect_timeout=timeout_s) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout_s)
        passive = connection.transport.driver_type == "amqp"
        for queue in queues:
            # A channel per queue: RabbitMQ closes the channel a passive declare of an unknown queue was sent on.
            with connection.channel() as channel:
                try:
                    depths[queue] = int(channel.queue_declare(queue=queue, passive=passive).message_count)
                except connection.channel_errors:  # not known to the broker: nothing waits in it
                    depths[queue] = 0
    return depths


class QueueDepth(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One reader at a time: a scrape behind a hung read waits for its own deadline, no thread piles up.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-broker")

    def collect(self) -> Iterator[Metric]:
        timeout_s = self.settings.metrics_timeout_s
        queues = queue_names(timeout_s)
        try:
            depths = self._reader.submit(read_depths, self.settings, queues, timeout_s).result(timeout=timeout_s * 2)
        except Exception:  # past its deadline, or whatever the transport raised: no gauge this time
            SCRAPE_ERRORS.labels(collector="broker").inc()
            log.warning("metrics: could not read queue depths from the broker", exc_info=True)
            return
        gauge = GaugeMetricFamily("sanacloud_celery_queue_messages", "Messages waiting in a Celery queue",
                                  labels=["queue"])
        for queue, depth in depths.items():
            gauge.add_metric([queue], depth)
        yield gauge

"""The platform's own Prometheus metrics, and where several processes keep theirs.

Every counter and histogram that a process updates is defined here (or, like the webhook
deliveries counter, in its own module: anything made with prometheus_client is collected). The
state read from the database and the broker at scrape time is not here: `platform_state` and
`queue_depth` compute it in the API process that serves /metrics.

Multiprocess mode: prometheus_client reads `PROMETHEUS_MULTIPROC_DIR` when it is first imported;
with it set, every process (API processes, Celery workers and their children) writes its values
into files in that folder, and /metrics sums them. The folder must be empty when the processes
start (`sanacloud up` makes a fresh one under the data dir).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Histogram, multiprocess, values

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Requests take milliseconds; uploads and event streams take minutes.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
ADMISSION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A warm batch takes a fraction of a second; a cold load with compilation, minutes.
GENERATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

HTTP_REQUESTS = Counter(
    "sanacloud_http_requests_total", "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"])
HTTP_REQUEST_DURATION = Histogram(
    "sanacloud_http_request_duration_seconds", "Time from a request's arrival to the end of its response",
    ["method", "route", "status"], buckets=HTTP_BUCKETS)
ADMISSION_PASS_DURATION = Histogram(
    "sanacloud_admission_pass_duration_seconds",
    "One admission pass over a GPU pool (scheduler.admission.schedule_pool), its wait for the pool's lock included",
    ["pool"], buckets=ADMISSION_BUCKETS)
GENERATION_PHASE_DURATION = Histogram(
    "sanacloud_generation_phase_duration_seconds",
    "A finished generation's time in each phase: queue, load, warm_up, adapter, denoise, decode",
    ["phase"], buckets=GENERATION_BUCKETS)
SCRAPE_ERRORS = Counter(
    "sanacloud_metrics_scrape_errors_total",
    "Scrapes that left out a collector's metrics because its source (database, broker) failed or was too slow",
    ["collector"])


def multiprocess_dir() -> Path | None:
    """The folder processes share their values through, or None (each process serves its own)."""
    configured = os.environ.get(MULTIPROC_VARIABLE)
    return Path(configured) if configured else None


def share_through(folder: Path) -> None:
    """Multiprocess mode for this process and the processes it starts from now on, through `folder`.

    For a process that has already imported prometheus_client (`sanacloud up`, whose command line
    imports the platform): the value class it gives a metric's children is chosen again, which
    prometheus_client reads as each labelled child is made (every metric here has labels)."""
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def observe_generation(timings: dict[str, float]) -> None:
    """A generation's recorded timings (`queue_s`, `load_s`, ...: seconds), one observation per phase."""
    for name, seconds in timings.items():
        if name.endswith("_s"):
            GENERATION_PHASE_DURATION.labels(phase=name.removesuffix("_s")).observe(seconds)


def process_exited(pid: int | None = None) -> None:
    """Bookkeeping for a process that ends (this one by default): its live gauges stop counting."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(os.getpid() if pid is None else pid, str(folder))  # type: ignore[no-untyped-call]

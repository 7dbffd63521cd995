"""Running one admitted attempt in this process, whoever started it: the local worker's training
task, or a Kubernetes pod (`sanacloud attempt`). The same code either way, so nothing about a run
differs between the two executors."""

from __future__ import annotations

import logging
import os
import socket

from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store
from sanacloud.workers.training.child import Rendezvous
from sanacloud.workers.training.stopping import StopRequest
from sanacloud.workers.training.supervise import run_attempt

log = logging.getLogger(__name__)


def run_here(job_id: str, attempt: int, *, stop: StopRequest | None = None,
             rendezvous: Rendezvous | None = None) -> str | None:
    """Claim the attempt (a stale or duplicate delivery claims nothing and returns), then run it."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with session_scope() as session:
        context = lifecycle.claim(session, job_id=job_id, attempt=attempt, worker=worker)
    if context is None:
        log.info("job %s attempt %d is not admitted any more; nothing to run", job_id, attempt)
        return None
    outcome = run_attempt(context, store=get_object_store(), settings=get_settings(), stop=stop,
                          rendezvous=rendezvous)
    log.info("job %s attempt %d ended: %s", job_id, attempt, outcome or "taken over elsewhere")
    return str(outcome) if outcome else None

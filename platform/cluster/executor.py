"""Where admitted attempts and inference run (SANACLOUD_EXECUTOR): one interface, two ways.

- local: the Celery worker that takes an attempt's `train.<pool>` message runs it as its own child
  process (`run_here`, the workers' code), and one local worker serves a pool's `infer.<pool>`.
- kubernetes: the worker that takes the message is the executor's, in the control plane: it makes
  the attempt a Kubernetes Job whose pod runs the same attempt code (`sanacloud attempt`), and keeps
  a Deployment of inference workers per pool and served model, its replicas following demand, each
  consuming its model's own queue. A reconcile pass (each tick, each message, each cold start)
  keeps the cluster equal to what the database says.

Every decision about running work is in the database (admission, claims, heartbeats); an executor
only makes processes exist, so nothing about a run differs between the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from sanacloud.platform import queues
from sanacloud.platform.cluster.kube_api import KubeApi
from sanacloud.platform.cluster.names import training_name
from sanacloud.platform.cluster.reconcile import reconcile
from sanacloud.platform.db.hooks import on_commit
from sanacloud.platform.serving.replicas import MAX_REPLICAS
from sanacloud.platform.settings import Settings

RunHere = Callable[[str, int], str | None]
MAX_LOCAL_REPLICAS = 1  # one local worker serves every endpoint of the machine


class Executor(Protocol):
    max_inference_replicas: int

    def launch(self, job_id: str, attempt: int) -> str | None:
        """Run (local) or start (kubernetes) the attempt a `train.<pool>` message names."""
        ...

    def reconcile(self) -> dict[str, int]:
        """Make what runs equal to what the database wants; returns counts of what was done."""
        ...

    def inference_queue(self, pool: str, key: str) -> str:
        """Where a generation of the served model `key` goes."""
        ...

    def wake_after_commit(self, session: Session) -> None:
        """Demand changed (a cold start): reconcile soon, once the transaction is committed."""
        ...


class LocalExecutor:
    max_inference_replicas = MAX_LOCAL_REPLICAS

    def __init__(self, run_here: RunHere | None) -> None:
        self._run_here = run_here

    def launch(self, job_id: str, attempt: int) -> str | None:
        if self._run_here is None:
            raise RuntimeError("this process does not run training attempts")
        return self._run_here(job_id, attempt)

    def reconcile(self) -> dict[str, int]:
        return {}  # an attempt is its worker's child: nothing outlives or precedes it

    def inference_queue(self, pool: str, key: str) -> str:
        return queues.infer_queue(pool)

    def wake_after_commit(self, session: Session) -> None:
        return None  # the local worker takes the generation itself


class KubernetesExecutor:
    max_inference_replicas = MAX_REPLICAS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def launch(self, job_id: str, attempt: int) -> str | None:
        self.reconcile()  # one pass makes every admitted attempt's Job, this one among them
        return training_name(job_id, attempt)

    def reconcile(self) -> dict[str, int]:
        api = KubeApi.from_settings(self.settings)
        try:
            return reconcile(api, self.settings)
        finally:
            api.close()

    def inference_queue(self, pool: str, key: str) -> str:
        return queues.infer_queue(pool, key)

    def wake_after_commit(self, session: Session) -> None:
        on_commit(session, queues.send_reconcile)


def get_executor(settings: Settings, run_here: RunHere | None = None) -> Executor:
    """The configured executor; `run_here` runs an attempt in this process (workers pass it)."""
    if settings.executor == "kubernetes":
        return KubernetesExecutor(settings)
    return LocalExecutor(run_here)

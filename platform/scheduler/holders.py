"""Who holds a pool's GPUs now: admitted and running jobs, and a GPU per replica of each model held
for warm endpoints (the same holders the scheduler counts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sanacloud.platform.db.models import Job
from sanacloud.platform.scheduler.admission import HOLDING
from sanacloud.platform.serving.generations import warm_gpus


@dataclass(frozen=True)
class GpuHolder:
    tenant_id: str
    kind: Literal["job", "endpoint"]
    ids: tuple[str, ...]  # the job; or the endpoints sharing one loaded model
    gpus: int


def gpu_holders(session: Session, pool_id: str) -> list[GpuHolder]:
    jobs = session.execute(select(Job.id, Job.tenant_id, Job.gpus)
                           .where(Job.pool_id == pool_id, Job.status.in_(HOLDING)).order_by(Job.id))
    return ([GpuHolder(tenant_id, "job", (job_id,), gpus) for job_id, tenant_id, gpus in jobs]
            + [GpuHolder(warm.tenant_id, "endpoint", tuple(endpoint.id for endpoint in warm.endpoints), warm.gpus)
               for warm in warm_gpus(session, pool_id)])

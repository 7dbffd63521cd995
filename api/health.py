"""Probes: `/healthz` says the process is alive, `/readyz` that it can serve (database and broker)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from sanacloud.api.deps import SettingsDep
from sanacloud.api.errors import problems
from sanacloud.platform import health
from sanacloud.platform.errors import Unavailable

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"


@router.get("/healthz")
async def health_liveness() -> Alive:
    """Liveness: answers whenever the process runs its event loop; touches no dependency."""
    return Alive()


@router.get("/readyz", responses=problems(503))
def health_readiness(settings: SettingsDep) -> Ready:
    """Readiness: 503 naming what cannot be reached, so that traffic goes to other processes meanwhile."""
    problems = health.unready(settings)
    if problems:
        raise Unavailable("not ready: " + "; ".join(f"the {name} cannot be reached ({kind})"
                                                    for name, kind in problems.items()))
    return Ready()

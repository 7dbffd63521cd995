"""Probes: `/healthz` says the process is alive, `/readyz` that it can serve (database and broker)."""

from __future__ import annotations

from fastapi import APIRouter

from sanacloud.api.deps import SettingsDep
from sanacloud.api.errors import problems
from sanacloud.platform import health
from sanacloud.platform.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: answers whenever the process runs its event loop; touches no dependency."""
    return {"status": "ok"}


@router.get("/readyz", responses=problems(503))
def readyz(settings: SettingsDep) -> dict[str, str]:
    """Readiness: 503 naming what cannot be reached, so that traffic goes to other processes meanwhile."""
    problems = health.unready(settings)
    if problems:
        raise Unavailable("not ready: " + "; ".join(f"the {name} cannot be reached ({kind})"
                                                    for name, kind in problems.items()))
    return {"status": "ready"}

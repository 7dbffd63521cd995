"""The FastAPI application: routers, error mapping, limits. `uvicorn --factory sanacloud.api.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from sanacloud.api.admin.router import catalog_router
from sanacloud.api.admin.router import router as admin_router
from sanacloud.api.datasets.router import router as datasets_router
from sanacloud.api.deps import SessionDep
from sanacloud.api.endpoints.router import router as endpoints_router
from sanacloud.api.errors import install_error_handlers
from sanacloud.api.headers import SecurityHeaders
from sanacloud.api.jobs.router import router as jobs_router
from sanacloud.api.limits import BodySizeLimit
from sanacloud.api.members.router import router as members_router
from sanacloud.api.models.router import router as models_router
from sanacloud.api.objects.router import router as objects_router
from sanacloud.api.usage.router import router as usage_router
from sanacloud.platform.settings import get_settings

DESCRIPTION = """Fine-tune and serve Sana text-to-image models.

Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json`."""


def create_app() -> FastAPI:
    settings = get_settings()
    # /docs and /redoc with Swagger UI's and ReDoc's files served from the package, not a CDN.
    app = FastAPIOffline(title="sanacloud", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    # Multipart framing adds a little to the files themselves.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 1024 * 1024)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so that the size limit's answers carry them too
    for router in (admin_router, catalog_router, members_router, datasets_router, jobs_router, objects_router,
                   usage_router, models_router, endpoints_router):
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz(session: SessionDep) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app

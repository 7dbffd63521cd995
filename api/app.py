"""The FastAPI application: routers, error mapping, limits. `uvicorn --factory sanacloud.api.app:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from sanacloud.api.admin.router import catalog_router
from sanacloud.api.admin.router import router as admin_router
from sanacloud.api.authentication import Authenticate
from sanacloud.api.dashboard.router import mount_dashboard
from sanacloud.api.datasets.router import router as datasets_router
from sanacloud.api.endpoints.router import router as endpoints_router
from sanacloud.api.errors import install_error_handlers
from sanacloud.api.headers import ResponseHeaders
from sanacloud.api.health import router as health_router
from sanacloud.api.invalid_input import refuse_nul
from sanacloud.api.jobs.router import router as jobs_router
from sanacloud.api.limits import BodySizeLimit
from sanacloud.api.members.router import router as members_router
from sanacloud.api.metrics import metrics_router
from sanacloud.api.metrics_middleware import HttpMetrics
from sanacloud.api.models.router import router as models_router
from sanacloud.api.objects.router import router as objects_router
from sanacloud.api.rate_limit import RateLimiter
from sanacloud.api.usage.router import router as usage_router
from sanacloud.api.webhooks.router import router as webhooks_router
from sanacloud.platform.observability import metrics
from sanacloud.platform.observability.celery_hooks import carry_request_ids
from sanacloud.platform.settings import Settings, get_settings

DESCRIPTION = """Fine-tune and serve Sana text-to-image models.

Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json`."""


def operation_id(route: APIRoute) -> str:
    """An operation's id is its function's name, dashed (`jobs_create`: `jobs-create`). Route functions are
    named `<resource>_<action>`, so that the ids read as what the operations do, and lead to their code."""
    return route.name.replace("_", "-")


@asynccontextmanager
async def _lifespan(settings: Settings, _app: FastAPI) -> AsyncIterator[None]:
    # Sync routes and dependencies run on this pool of threads, each holding at most one database
    # connection: no more threads than connections, so that a request waits for a thread (at no
    # cost) rather than hold one while it waits for a connection.
    to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size + settings.db_max_overflow
    yield
    metrics.process_exited()


def create_app() -> FastAPI:
    settings = get_settings()
    carry_request_ids()  # on every log line while a request is handled, and on the tasks it sends
    # /docs and /redoc with Swagger UI's and ReDoc's files served from the package, not a CDN.
    app = FastAPIOffline(title="sanacloud", version="0.1.0", description=DESCRIPTION,
                         lifespan=partial(_lifespan, settings), dependencies=[Depends(refuse_nul)],
                         generate_unique_id_function=operation_id)
    install_error_handlers(app)
    for router in (admin_router, catalog_router, members_router, datasets_router, jobs_router, objects_router,
                   usage_router, models_router, endpoints_router, webhooks_router, health_router):
        app.include_router(router)
    app.include_router(metrics_router(settings))
    mount_dashboard(app)
    # The middleware added last is outermost: headers, metrics, then authentication, then the size limit.
    app.add_middleware(BodySizeLimit, max_json_bytes=settings.max_json_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(Authenticate, limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst))
    app.add_middleware(HttpMetrics)
    app.add_middleware(ResponseHeaders)  # outermost, so that the other middleware's answers carry them too

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    return app

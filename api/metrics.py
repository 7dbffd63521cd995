"""`GET /metrics`: the platform's metrics in the Prometheus text format (platform/observability/).

Open by default, as a health probe is: it carries no tenant's data (pools, job states, queues and
route templates only). With SANACLOUD_METRICS_TOKEN set it needs `Authorization: Bearer <token>`,
for deployments whose API is reachable from outside. Not in the OpenAPI document: it is an
operator's endpoint, not part of the API clients are generated from.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sanacloud.platform.errors import Unauthorized
from sanacloud.platform.observability.registry import api_registry
from sanacloud.platform.settings import Settings


def metrics_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    registry = api_registry(settings)

    @router.get("/metrics", include_in_schema=False)
    def metrics_scrape(authorization: str = Header(default="")) -> Response:
        if settings.metrics_token:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                     settings.metrics_token.encode()):
                raise Unauthorized("/metrics needs 'Authorization: Bearer <SANACLOUD_METRICS_TOKEN>'")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router

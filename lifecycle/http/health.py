"""GET /api/health: configuration and storage reachability, for probes. Shows no secrets. Anonymous."""
from __future__ import annotations

import azure.functions as func

from lifecycle.errors import ConfigurationError
from lifecycle.http.pipeline import Call, Provider, Services, map_errors, pipeline
from lifecycle.http.responses import json_response
from lifecycle.services.views import STORAGE_OK

bp = func.Blueprint()
RETRY_AFTER = "10"


def report_misconfiguration(inner: Call) -> Call:
    """Settings the services cannot be built from are a health finding (503 with the report), not an error."""

    async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
        try:
            return await inner(req, services)
        except ConfigurationError as exc:
            return json_response({"status": "unhealthy", "checks": {"settings": exc.message}}, 503)

    return call


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@pipeline(map_errors, report_misconfiguration)
async def health(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    settings = services.settings
    checks: dict[str, object] = {
        "settings": "ok",
        "graph": {"baseUrl": settings.graph_base_url,
                  "auth": "development-token" if settings.graph_uses_development_token else "managed-identity"},
        "storageAuth": {"mode": "managed-identity" if settings.storage_uses_identity else "connection-string"},
        "managedGroups": len(settings.managed_group_ids),
        "storage": await services.views.storage_status(),
    }
    if checks["storage"] != STORAGE_OK:
        return json_response({"status": "unhealthy", "checks": checks}, 503, {"Retry-After": RETRY_AFTER})
    return json_response({"status": "healthy", "checks": checks})

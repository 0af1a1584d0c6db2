"""GET /api/health: configuration and storage reachability, for probes. Shows no secrets."""
from __future__ import annotations

import azure.functions as func

from lifecycle.config import Settings
from lifecycle.errors import LifecycleError
from lifecycle.http.responses import public_http_handler, json_response
from lifecycle.wiring import container

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@public_http_handler
async def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = Settings.from_env()
    except LifecycleError as exc:
        return json_response({"status": "unhealthy", "checks": {"settings": exc.message}}, 503)
    checks: dict[str, object] = {
        "settings": "ok",
        "graph": {"baseUrl": settings.graph_base_url,
                  "auth": "development-token" if settings.graph_uses_development_token else "managed-identity"},
        "storageAuth": {"mode": "managed-identity" if settings.storage_uses_identity else "connection-string"},
        "managedGroups": len(settings.managed_group_ids),
    }
    try:
        await container.get().records.store.ping()
        checks["storage"] = "ok"
    except LifecycleError as exc:
        checks["storage"] = exc.message
        return json_response({"status": "unhealthy", "checks": checks}, 503, {"Retry-After": "10"})
    return json_response({"status": "healthy", "checks": checks})

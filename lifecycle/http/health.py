"""GET /api/health: the app's version, configuration, whether a Graph token can be had and whether storage answers,
for probes.
Anonymous, so it shows statuses, never a setting's value or a secret: a setting at fault is named, a check that
fails says what to check. Raises nothing: every finding is in the report (503 when unhealthy)."""
from __future__ import annotations

import asyncio

import azure.functions as func

from lifecycle import __version__
from lifecycle.errors import ConfigurationError
from lifecycle.http.errors import loggable
from lifecycle.http.pipeline import Call, Provider, Services, map_errors, pipeline
from lifecycle.http.responses import json_response
from lifecycle.logs import get_logger
from lifecycle.services.views import STORAGE_OK, GroupProblem

bp = func.Blueprint()
RETRY_AFTER = "10"
CONFIGURED = "configured"
log = get_logger("lifecycle.http")


def report_misconfiguration(inner: Call) -> Call:
    """Settings the services cannot be built from are a health finding (503 naming the settings; the log says why),
    not an error."""

    async def call(req: func.HttpRequest, services: Provider) -> func.HttpResponse:
        try:
            return await inner(req, services)
        except ConfigurationError as exc:
            log.warning("health: settings", error=loggable(exc.message))
            return json_response({"status": "unhealthy", "version": __version__,
                                  "checks": {"settings": settings_finding(exc)}}, 503)

    return call


def settings_finding(exc: ConfigurationError) -> str:
    """The settings at fault by name (their values are never shown here)."""
    named = f": {', '.join(exc.settings)}" if exc.settings else ""
    return f"invalid or missing{named} (the app's log says why)"


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@pipeline(map_errors, report_misconfiguration)
async def health(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    settings = services.settings
    views = services.views

    async def graph_checks() -> tuple[tuple[bool, str], tuple[GroupProblem, ...]]:
        """The token first: the group check's Graph reads then use the token it cached (asked at once, the
        credential would fetch two)."""
        token_status = await views.token_status()
        return token_status, (await views.managed_group_problems() if token_status[0] else ())

    ((token_ok, token), group_problems), storage = await asyncio.gather(graph_checks(), views.storage_status())
    checks: dict[str, object] = {
        "settings": "ok",
        "graph": {"baseUrl": CONFIGURED,
                  "auth": "development-token" if settings.graph_uses_development_token else "managed-identity",
                  "token": token},
        "storageAuth": {"mode": "managed-identity" if settings.storage_uses_identity else "connection-string"},
        "managedGroups": {"count": len(settings.managed_group_ids), "problems": [
            {"position": position, "problem": problem} for position, _, problem in group_problems]},
        "storage": storage,
    }
    # the ids go to the log only (an anonymous probe's answer never shows one)
    for position, group_id, problem in group_problems:
        log.warning("health: MANAGED_GROUP_IDS", position=position, groupId=group_id, error=loggable(problem))
    if not token_ok or storage != STORAGE_OK:
        return json_response({"status": "unhealthy", "version": __version__, "checks": checks}, 503,
                             {"Retry-After": RETRY_AFTER})
    return json_response({"status": "healthy", "version": __version__, "checks": checks})

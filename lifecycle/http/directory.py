"""HTTP functions over the whole directory: adopt the guests it already has, and show the next sweep's plan."""
from __future__ import annotations

import azure.functions as func

from lifecycle.http.responses import actor_of, http_handler, json_response, parse_body
from lifecycle.schemas import AdoptRequest
from lifecycle.services.sweep import describe_plan
from lifecycle.wiring import container

bp = func.Blueprint()


@bp.route(route="adopt", methods=["POST"])
@http_handler
async def adopt_guests(req: func.HttpRequest) -> func.HttpResponse:
    request = parse_body(req, AdoptRequest, optional=True)
    adoption = await container.get().adoption.adopt(
        actor=actor_of(req), dry_run=request.dryRun, expires_in_days=request.expiresInDays,
        group_id=str(request.groupId) if request.groupId else None)
    return json_response(adoption.to_body())


@bp.route(route="expiry/plan", methods=["GET"])
@http_handler
async def expiry_plan(req: func.HttpRequest) -> func.HttpResponse:
    plan, survey = await container.get().expiry.plan()
    return json_response(describe_plan(plan, survey))

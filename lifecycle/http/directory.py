"""HTTP functions over the whole directory: adopt the guests it already has, and show the next sweep's plan (kept
for approval: lifecycle/http/review.py)."""
from __future__ import annotations

import azure.functions as func

from lifecycle.http.auth import actor_of
from lifecycle.http.parsing import parse_body
from lifecycle.http.pipeline import Services, api
from lifecycle.http.responses import json_response
from lifecycle.http.schemas import AdoptRequest

bp = func.Blueprint()


@bp.route(route="adopt", methods=["POST"])
@api
async def adopt_guests(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    request = parse_body(req, AdoptRequest, optional=True)
    adoption = await services.adoption.adopt(
        actor=actor_of(req), dry_run=request.dryRun, expires_in_days=request.expiresInDays,
        group_id=str(request.groupId) if request.groupId else None,
        max_guests=services.settings.adopt_http_max_guests)  # more: the command line (no request lasts that long)
    return json_response(adoption.to_body())


@bp.route(route="expiry/plan", methods=["GET"])
@api
async def expiry_plan(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return json_response(await services.approvals.publish(actor_of(req)))

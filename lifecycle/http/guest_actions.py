"""HTTP functions for lifecycle operations: disable, enable, extend, re-invite, delete, restore. Extend and re-invite
give access again, so they run through `services.granting` (the domain lists checked on the guest's addresses)."""
from __future__ import annotations

import azure.functions as func

from lifecycle.domain.model import DisabledReason
from lifecycle.http.auth import actor_of
from lifecycle.http.parsing import parse_body, route_guid
from lifecycle.http.pipeline import Services, api
from lifecycle.http.responses import guest_response
from lifecycle.http.schemas import ExtendRequest, ReinviteRequest
from lifecycle.services.operations import Operation

bp = func.Blueprint()


async def _run(req: func.HttpRequest, services: Services, operation: Operation, *,
               grants: bool = False) -> func.HttpResponse:
    runner = services.granting if grants else services.operations
    result = await runner.run(operation, route_guid(req, "id"), actor_of(req))
    return guest_response(req, result.guest, redeem_url=result.graph_result if isinstance(result.graph_result, str)
                          else None)


@bp.route(route="guests/{id}/disable", methods=["POST"])
@api
async def disable_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return await _run(req, services, services.operations.disabling(DisabledReason.MANUAL))


@bp.route(route="guests/{id}/enable", methods=["POST"])
@api
async def enable_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return await _run(req, services, services.operations.enabling())


@bp.route(route="guests/{id}/extend", methods=["POST"])
@api
async def extend_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    request = parse_body(req, ExtendRequest)
    result = await services.granting.extend(route_guid(req, "id"), actor_of(req), services.clock(),
                                            expires_at=request.expiresAt, days=request.days)
    return guest_response(req, result.guest)


@bp.route(route="guests/{id}/reinvite", methods=["POST"])
@api
async def reinvite_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    request = parse_body(req, ReinviteRequest, optional=True)
    redirect = request.redirectUrl or services.settings.invite_redirect_url
    return await _run(req, services, services.operations.reinviting(redirect), grants=True)


@bp.route(route="guests/{id}", methods=["DELETE"])
@api
async def delete_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return await _run(req, services, services.operations.deleting())


@bp.route(route="guests/{id}/restore", methods=["POST"])
@api
async def restore_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    return await _run(req, services, services.operations.restoring())

"""HTTP functions for lifecycle operations: disable, enable, extend, re-invite, delete, restore."""
from __future__ import annotations

import azure.functions as func

from lifecycle.domain.model import DisabledReason
from lifecycle.http.guests import guest_response
from lifecycle.http.responses import actor_of, http_handler, parse_body, route_guid
from lifecycle.schemas import ExtendRequest, ReinviteRequest
from lifecycle.services.operations import Operation
from lifecycle.wiring import container

bp = func.Blueprint()


async def _run(req: func.HttpRequest, operation: Operation) -> func.HttpResponse:
    result = await container.get().operations.run(operation, route_guid(req, "id"), actor_of(req))
    return guest_response(req, result.guest, redeem_url=result.graph_result if isinstance(result.graph_result, str)
                          else None)


@bp.route(route="guests/{id}/disable", methods=["POST"])
@http_handler
async def disable_guest(req: func.HttpRequest) -> func.HttpResponse:
    return await _run(req, container.get().operations.disabling(DisabledReason.MANUAL))


@bp.route(route="guests/{id}/enable", methods=["POST"])
@http_handler
async def enable_guest(req: func.HttpRequest) -> func.HttpResponse:
    return await _run(req, container.get().operations.enabling())


@bp.route(route="guests/{id}/extend", methods=["POST"])
@http_handler
async def extend_guest(req: func.HttpRequest) -> func.HttpResponse:
    request = parse_body(req, ExtendRequest)
    services = container.get()
    return await _run(req, services.operations.extending(request.expiry(services.clock())))


@bp.route(route="guests/{id}/reinvite", methods=["POST"])
@http_handler
async def reinvite_guest(req: func.HttpRequest) -> func.HttpResponse:
    request = parse_body(req, ReinviteRequest, optional=True)
    services = container.get()
    redirect = request.redirectUrl or services.settings.invite_redirect_url
    return await _run(req, services.operations.reinviting(redirect))


@bp.route(route="guests/{id}", methods=["DELETE"])
@http_handler
async def delete_guest(req: func.HttpRequest) -> func.HttpResponse:
    return await _run(req, container.get().operations.deleting())


@bp.route(route="guests/{id}/restore", methods=["POST"])
@http_handler
async def restore_guest(req: func.HttpRequest) -> func.HttpResponse:
    return await _run(req, container.get().operations.restoring())

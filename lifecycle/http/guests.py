"""HTTP functions: invite, read, list, and group membership of guests."""
from __future__ import annotations

import azure.functions as func

from lifecycle.http.auth import actor_of
from lifecycle.http.parsing import parse_body, parse_query, route_guid
from lifecycle.http.pipeline import Services, api
from lifecycle.http.responses import guest_response, json_response
from lifecycle.http.roles import READ, caller_of
from lifecycle.http.schemas import GuestPage, InviteRequest, ListQuery

bp = func.Blueprint()


@bp.route(route="guests", methods=["POST"])
@api
async def invite_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    command = parse_body(req, InviteRequest).command(services.clock(), services.settings.guest_default_ttl_days)
    outcome = await services.invitations.invite(command, actor_of(req))
    return guest_response(req, outcome.guest, 201 if outcome.created else 200, outcome.redeem_url, outcome.ignored)


@bp.route(route="guests/{id}", methods=["GET"])
@api
async def get_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """The guest; while Graph work is pending, each GET poll also retries it (the record already holds the intent).
    HEAD only reads: it never makes a Graph write. A sponsor without Guests.Read reads only the guests it sponsors."""
    guest_id = route_guid(req, "id")
    sponsor = caller_of(req).sponsor_id(READ)
    if sponsor is not None:
        await services.sponsorship.require_sponsor(guest_id, sponsor)
    if req.method.upper() == "GET":
        guest = await services.views.poll(guest_id, actor_of(req))
    else:
        guest = await services.views.get(guest_id)
    return guest_response(req, guest)


@bp.route(route="guests", methods=["GET"])
@api
async def list_guests(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    page = await services.views.list(parse_query(req, ListQuery).guest_query())
    return json_response(GuestPage.of(page))


@bp.route(route="guests/{id}/groups/{groupId}", methods=["PUT"])
@api
async def add_guest_to_group(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    guest = await services.groups.add(route_guid(req, "id"), route_guid(req, "groupId"), actor_of(req))
    return guest_response(req, guest)


@bp.route(route="guests/{id}/groups/{groupId}", methods=["DELETE"])
@api
async def remove_guest_from_group(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    guest = await services.groups.remove(route_guid(req, "id"), route_guid(req, "groupId"), actor_of(req))
    return guest_response(req, guest)

"""HTTP functions: invite, read, list, and group membership of guests."""
from __future__ import annotations

import azure.functions as func

from lifecycle.domain.model import Guest, GuestState
from lifecycle.http.responses import (
    actor_of, base_url, http_handler, json_response, parse_body, parse_query, route_guid,
)
from lifecycle.ports import GuestQuery
from lifecycle.schemas import GuestPage, GuestResource, InviteRequest, ListQuery
from lifecycle.wiring import container

bp = func.Blueprint()
PENDING_RETRY_AFTER = "10"


def guest_response(req: func.HttpRequest, guest: Guest, status: int = 200,
                   redeem_url: str | None = None) -> func.HttpResponse:
    """200/201 with the guest, or 202 + Location + Retry-After while Graph work is still pending."""
    headers = {}
    if guest.has_pending_group_changes:
        status = 202
        headers = {"Location": f"{base_url(req)}/api/guests/{guest.id}", "Retry-After": PENDING_RETRY_AFTER}
    return json_response(GuestResource.of(guest, redeem_url), status, headers)


@bp.route(route="guests", methods=["POST"])
@http_handler
async def invite_guest(req: func.HttpRequest) -> func.HttpResponse:
    services = container.get()
    command = parse_body(req, InviteRequest).command(services.clock(), services.settings.guest_default_ttl_days)
    outcome = await services.invitations.invite(command, actor_of(req))
    return guest_response(req, outcome.guest, 201 if outcome.created else 200, outcome.redeem_url)


@bp.route(route="guests/{id}", methods=["GET"])
@http_handler
async def get_guest(req: func.HttpRequest) -> func.HttpResponse:
    """The guest; while Graph work is pending, each GET poll also retries it (the record already holds the intent).
    HEAD only reads: it never makes a Graph write."""
    services = container.get()
    guest = await services.records.load(route_guid(req, "id"))
    if req.method.upper() == "GET" and guest.has_pending_graph_work:
        guest = await services.provisioner.finish(guest, actor=actor_of(req))
    return guest_response(req, guest)


@bp.route(route="guests", methods=["GET"])
@http_handler
async def list_guests(req: func.HttpRequest) -> func.HttpResponse:
    query = parse_query(req, ListQuery)
    page = await container.get().records.store.query(GuestQuery(
        state=GuestState(query.state) if query.state else None, email=query.email,
        expiring_before=query.expiringBefore, page_size=query.pageSize,
        continuation_token=query.continuationToken))
    body = GuestPage(value=[GuestResource.of(g) for g in page.guests], continuationToken=page.continuation_token)
    return json_response(body)


@bp.route(route="guests/{id}/groups/{groupId}", methods=["PUT"])
@http_handler
async def add_guest_to_group(req: func.HttpRequest) -> func.HttpResponse:
    guest = await container.get().groups.add(route_guid(req, "id"), route_guid(req, "groupId"), actor_of(req))
    return guest_response(req, guest)


@bp.route(route="guests/{id}/groups/{groupId}", methods=["DELETE"])
@http_handler
async def remove_guest_from_group(req: func.HttpRequest) -> func.HttpResponse:
    guest = await container.get().groups.remove(route_guid(req, "id"), route_guid(req, "groupId"), actor_of(req))
    return guest_response(req, guest)

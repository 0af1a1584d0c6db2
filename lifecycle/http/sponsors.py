"""HTTP functions for sponsors: the signed-in caller's guests, and a sponsor's decision on one of them (attestation).

A caller holding the route's role (roles.ROUTE_RULES) acts on every guest; a signed-in user without it acts as a
sponsor, on the guests whose record names it among their sponsors (`services.sponsorship` checks which)."""
from __future__ import annotations

import azure.functions as func

from lifecycle.domain.planning import attestation_due
from lifecycle.http.parsing import parse_body, parse_query, route_guid
from lifecycle.http.pipeline import Services, api
from lifecycle.http.responses import json_response
from lifecycle.http.roles import MANAGE, READ, caller_of
from lifecycle.http.schemas import AttestRequest, GuestPage, GuestResource, MyGuestsPage, MyGuestsQuery
from lifecycle.ports import GuestQuery

bp = func.Blueprint()


@bp.route(route="me/guests", methods=["GET"])
@api
async def my_guests(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """The caller's guests as a sponsor, or every tracked guest for a caller holding Guests.Read (a function key
    holds it)."""
    caller = caller_of(req)
    query = parse_query(req, MyGuestsQuery)
    sponsor = caller.sponsor_id(READ)
    if sponsor is None:
        page = await services.views.list(GuestQuery(page_size=query.pageSize,
                                                    continuation_token=query.continuationToken))
    else:
        page = await services.sponsorship.guests_of(sponsor, query.pageSize, query.continuationToken)
    body = {**GuestPage.of(page).model_dump(mode="json"),
            "caller": {**caller.to_body(), "scope": "all" if sponsor is None else "sponsored"}}
    policy, by_id = services.expiry.policy(None, False), {guest.id: guest for guest in page.guests}
    signed_in = await services.views.last_sign_ins(list(by_id))
    for item in body["value"]:  # when each guest's next attestation is due (ATTESTATION_DAYS > 0), its last sign-in
        due = attestation_due(by_id[item["id"]], policy)
        item["attestationDueAt"] = due.isoformat() if due is not None and by_id[item["id"]].is_live else None
        last = (signed_in or {}).get(item["id"])
        item["lastSignInAt"] = last.isoformat() if last is not None else None
    return json_response(MyGuestsPage.model_validate(body))


@bp.route(route="guests/{id}/attest", methods=["POST"])
@api
async def attest_guest(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A sponsor's decision: keep (an audited attestation, with ATTESTATION_DAYS a later expiry) or remove (disabled
    now, deleted after the grace period). Callers holding Guests.Manage decide for any guest."""
    caller = caller_of(req)
    request = parse_body(req, AttestRequest)
    attested = await services.sponsorship.attest(route_guid(req, "id"), request.decision, caller.actor,
                                                 caller.sponsor_id(MANAGE))
    return json_response(GuestResource.of(attested.guest))

"""Graph handlers for /users/{id}/sponsors: the users and groups responsible for a guest.

Source: Graph v1.0 "List sponsors" (api-reference/v1.0/api/user-list-sponsors.md): a directoryObject collection of
users and groups, each with `@odata.type`; `$select` and `$expand` are supported. "Add sponsor"
(user-post-sponsors.md): POST /users/{id}/sponsors/$ref with an `@odata.id` naming a user or group → 204."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from . import signin
from .errors import bad_request, not_found, request_bad_request, unsupported_query
from .lookup import visible_user
from .odata import check_options, is_eventual, parse_select, select_option
from .responses import graph_json, json_object, no_content
from .routes_members import reference_target
from .schema import GROUP_DEFAULT_SELECT, GROUP_TYPE, USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .store import UserRecord
from .views import collection_body, collection_context, typed

# concepts/query-parameters.md, "expand parameter": on directory objects "$expand typically returns a maximum of 20
# items for the expanded relationship and has no @odata.nextLink"; aad-advanced-queries.md: "$expand is not currently
# supported with advanced queries"; throttling-limits.md: "Using $expand increases cost by 1" (costs.py).
MAX_EXPANDED = 20
# A user list with $expand is served in pages of at most 100 users, a larger $top in pages of 100 (Graph's pages are
# silent on the page size with $expand: the stricter reading; docs/directory-pass.md).
MAX_EXPANDED_PAGE = 100
_EXPAND = re.compile(r"^\s*sponsors\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*$", re.IGNORECASE)


@dataclass
class SponsorExpansion:
    """`$expand=sponsors[($select=...)]` of a user read."""

    select: list[str] | None


def sponsor_expansion(request: Request, count: bool = False) -> SponsorExpansion | None:
    """The parsed `$expand` (None without one); the emulator expands only `sponsors`."""
    raw = request.query_params.get("$expand")
    if raw is None:
        return None
    match = _EXPAND.match(raw)
    if match is None:
        raise bad_request(f"The emulator expands only 'sponsors' on users, not '{raw}'.")
    if count and is_eventual(request):
        raise unsupported_query("$expand is not currently supported with advanced queries.")
    nested = match.group(1)
    select = parse_select(nested, USER_PROPERTIES, "user") if nested is not None else None
    if signin.requested(select):
        raise bad_request("signInActivity cannot be selected inside $expand.")
    return SponsorExpansion(select)


def expanded(emulator: Emulator, item: dict, user: UserRecord, expansion: SponsorExpansion | None) -> dict:
    """A projected user with its first 20 sponsors under `sponsors` when they were expanded (a plain list: no
    `sponsors@odata.nextLink`, however many sponsors there are)."""
    if expansion is not None:
        item["sponsors"] = sponsor_objects(emulator, user, expansion.select)[:MAX_EXPANDED]
    return item


def sponsor_objects(emulator: Emulator, user: UserRecord, select: list[str] | None) -> list[dict]:
    """The user's sponsors that still exist, as typed directoryObjects (a deleted sponsor is not listed)."""
    found = []
    for sponsor_id in user.sponsors:
        sponsor = emulator.directory.users.get(sponsor_id)
        group = emulator.directory.groups.get(sponsor_id)
        if sponsor is not None and not sponsor.deleted:
            found.append(signin.shown(emulator, typed(sponsor.props, select, USER_DEFAULT_SELECT, USER_TYPE)))
        elif group is not None:
            group_select = [name for name in select if name in group.props] if select is not None else None
            found.append(typed(group.props, group_select, GROUP_DEFAULT_SELECT, GROUP_TYPE))
    return found


async def list_sponsors(request: Request, emulator: Emulator) -> Response:
    """GET /users/{id}/sponsors with optional $select (user property names)."""
    check_options(request, {"$select"})
    select = select_option(request, USER_PROPERTIES, "user")
    if signin.requested(select):
        signin.check_readable(emulator)
    user = visible_user(emulator, request.path_params["user_id"])
    context = collection_context(request, "directoryObjects", select)
    return graph_json(collection_body(context, sponsor_objects(emulator, user, select), None))


ALREADY_SPONSOR = ("One or more added object references already exist for the following modified properties: "
                   "'sponsors'.")


async def add_sponsor(request: Request, emulator: Emulator) -> Response:
    """POST /users/{id}/sponsors/$ref → 204. An unknown sponsor → 404 naming it, as a reference write for a missing
    object answers (group-post-members); an existing sponsor → 400 Request_BadRequest "... already exist ..." like
    members/$ref."""
    sponsor_id = reference_target(await json_object(request))
    user = visible_user(emulator, request.path_params["user_id"])
    if emulator.directory.live_user(sponsor_id) is None and sponsor_id not in emulator.directory.groups:
        raise not_found(sponsor_id)
    if sponsor_id in [known.lower() for known in user.sponsors]:
        raise request_bad_request(ALREADY_SPONSOR)
    user.sponsors.append(sponsor_id)
    return no_content()

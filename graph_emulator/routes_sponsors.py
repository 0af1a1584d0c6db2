"""Graph handler for GET /users/{id}/sponsors: the users and groups responsible for a guest.

Source: Graph v1.0 "List sponsors" (api-reference/v1.0/api/user-list-sponsors.md): a directoryObject collection of
users and groups, each with `@odata.type`; `$select` and `$expand` are supported."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import signin
from .lookup import visible_user
from .odata import check_options, select_option
from .responses import graph_json
from .schema import GROUP_DEFAULT_SELECT, GROUP_TYPE, USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .store import UserRecord
from .views import collection_body, collection_context, typed


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

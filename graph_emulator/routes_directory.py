"""Graph handlers for /directory/deletedItems: read, restore and permanently delete soft-deleted users.

Source: api-reference/v1.0/api/directory-deleteditems-restore.md ("200 OK and a directoryObject"; an item remains
restorable for up to 30 days). The page is silent on a restore whose userPrincipalName another object now holds:
Graph answers 400 Request_BadRequest "Another object with the same value for property userPrincipalName already
exists." (the directory's duplicate-property message, microsoftgraph/microsoft-graph-docs#1508; a restore that meets
it: microsoftgraph/entra-powershell#1484), and nothing is restored."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .errors import request_bad_request
from .lookup import deleted_user
from .odata import check_options, select_option
from .responses import context_url, graph_json, json_object, no_content
from .schema import USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .views import entity_context, typed

DELETED_DEFAULT_SELECT = (*USER_DEFAULT_SELECT, "deletedDateTime")
UPN_TAKEN = "Another object with the same value for property userPrincipalName already exists."


async def get_deleted(request: Request, emulator: Emulator) -> Response:
    """GET /directory/deletedItems/{id}: the deleted user (404 when not deleted or purged)."""
    check_options(request, {"$select"})
    select = select_option(request, USER_PROPERTIES, "user")
    user = deleted_user(emulator, request.path_params["object_id"])
    body = {"@odata.context": entity_context(request, "directory/deletedItems", select)}
    body.update(typed(user.props, select, DELETED_DEFAULT_SELECT, USER_TYPE))
    return graph_json(body)


async def restore_deleted(request: Request, emulator: Emulator) -> Response:
    """POST /directory/deletedItems/{id}/restore → 200 with the user; its group memberships come back. 400 when a
    live user now holds its userPrincipalName."""
    await json_object(request, optional=True)
    user = deleted_user(emulator, request.path_params["object_id"])
    upn = user.props.get("userPrincipalName")
    holder = emulator.directory.live_user(upn) if upn else None
    if holder is not None and holder.id != user.id:
        raise request_bad_request(UPN_TAKEN)
    emulator.directory.restore(user)
    body = {"@odata.context": context_url(request, "directoryObjects/$entity")}
    body.update(typed(user.props, None, USER_DEFAULT_SELECT, USER_TYPE))
    return graph_json(body)


async def purge_deleted(request: Request, emulator: Emulator) -> Response:
    """DELETE /directory/deletedItems/{id} → 204: gone for good."""
    user = deleted_user(emulator, request.path_params["object_id"])
    emulator.directory.purge(user.id)
    return no_content()

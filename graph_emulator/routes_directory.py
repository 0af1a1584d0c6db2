"""Graph handlers for /directory/deletedItems: read, restore and permanently delete soft-deleted users."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .lookup import deleted_user
from .odata import check_options, select_option
from .responses import context_url, graph_json, json_object, no_content
from .schema import USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .views import entity_context, typed

DELETED_DEFAULT_SELECT = (*USER_DEFAULT_SELECT, "deletedDateTime")


async def get_deleted(request: Request, emulator: Emulator) -> Response:
    """GET /directory/deletedItems/{id}: the deleted user (404 when not deleted or purged)."""
    check_options(request, {"$select"})
    select = select_option(request, USER_PROPERTIES, "user")
    user = deleted_user(emulator, request.path_params["object_id"])
    body = {"@odata.context": entity_context(request, "directory/deletedItems", select)}
    body.update(typed(user.props, select, DELETED_DEFAULT_SELECT, USER_TYPE))
    return graph_json(body)


async def restore_deleted(request: Request, emulator: Emulator) -> Response:
    """POST /directory/deletedItems/{id}/restore → 200 with the user; its group memberships come back."""
    await json_object(request, optional=True)
    user = deleted_user(emulator, request.path_params["object_id"])
    emulator.directory.restore(user)
    body = {"@odata.context": context_url(request, "directoryObjects/$entity")}
    body.update(typed(user.props, None, USER_DEFAULT_SELECT, USER_TYPE))
    return graph_json(body)


async def purge_deleted(request: Request, emulator: Emulator) -> Response:
    """DELETE /directory/deletedItems/{id} → 204: gone for good."""
    user = deleted_user(emulator, request.path_params["object_id"])
    emulator.directory.purge(user.id)
    return no_content()

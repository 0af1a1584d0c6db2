"""Graph handlers for /users: list with $filter, read with $select, update, revoke sessions, delete, memberOf."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import signin
from .errors import bad_request, not_found, object_not_found, request_bad_request
from .lookup import visible_user
from .odata import (
    CollectionQuery,
    check_options,
    is_eventual,
    make_skiptoken,
    make_upn_skiptoken,
    page,
    page_of,
    relation_query,
    select_option,
    user_collection_query,
)
from .responses import context_url, graph_json, graph_timestamp, json_object, no_content, utc_now
from .routes_sponsors import MAX_EXPANDED_PAGE, expanded, sponsor_expansion
from .schema import (
    GROUP_DEFAULT_SELECT,
    GROUP_PROPERTIES,
    GROUP_TYPE,
    USER_DEFAULT_SELECT,
    USER_PROPERTIES,
    USER_TYPE,
    USER_WRITABLE,
    valid_value,
)
from .state import Emulator
from .store import UserRecord, upn_key
from .views import collection_body, collection_context, entity_context, project, typed


async def list_users(request: Request, emulator: Emulator) -> Response:
    """GET /users: deleted users are never listed; lagging users are (a $filter sees them at once). A larger `$top`
    is served in smaller pages, never refused: at most 500 users when signInActivity is read (user-list.md), at most
    100 with `$expand` (routes_sponsors)."""
    query = user_collection_query(request)
    expansion = sponsor_expansion(request, query.count)
    if signin.requested(query.select, query.filter):
        signin.check_readable(emulator)
        query.top = signin.page_size(query.top)
    if expansion is not None:
        query.top = min(query.top, MAX_EXPANDED_PAGE)
    if query.order:
        users = _matching(emulator.directory.live_users(), query)
        prop, descending = query.order
        users.sort(key=lambda user: (user.props.get(prop) or "").casefold(), reverse=descending)
        items, link = page(users, request, query)
    else:
        items, link = _page_from_index(emulator, request, query)
    advanced = query.count and is_eventual(request)
    values = [expanded(emulator, signin.shown(emulator, project(user.props, query.select, USER_DEFAULT_SELECT),
                                              advanced), user, expansion) for user in items]
    context = collection_context(request, "users", query.select)
    count = len(_matching(emulator.directory.live_users(), query)) if query.count else None
    return graph_json(collection_body(context, values, link, count))


def _matching(users: list[UserRecord], query: CollectionQuery) -> list[UserRecord]:
    return [user for user in users if query.filter is None or query.filter.matches(user.props)]


def _page_from_index(emulator: Emulator, request: Request, query: CollectionQuery) -> tuple[list, str | None]:
    """One page read from an index, from the cursor on: a filter that demands a userPrincipalName prefix reads the
    UPN index from that prefix (a range of `startswith(userPrincipalName,'x')` costs its own users, not the
    directory's), any other reads the users in creation order. Either way at most a page and one more match."""
    parsed = query.filter
    if parsed is not None and parsed.ids is not None:  # read by key, as Graph reads `id eq` / `id in`
        found = (emulator.directory.users.get(user_id) for user_id in parsed.ids)
        keyed = sorted((user for user in found if user is not None and not user.deleted and user.seq > query.offset),
                       key=lambda user: user.seq)
        matches = (user for user in keyed if parsed.matches(user.props))
        return page_of(matches, request, query, lambda user: make_skiptoken(user.seq))
    if parsed is not None and parsed.upn_prefix is not None:
        candidates = emulator.directory.live_by_upn(parsed.upn_prefix, query.after_upn)
        matches = (user for user in candidates if parsed.matches(user.props))
        return page_of(matches, request, query, lambda user: make_upn_skiptoken(upn_key(user)))
    candidates = emulator.directory.live_after(query.offset)
    matches = (user for user in candidates if parsed is None or parsed.matches(user.props))
    return page_of(matches, request, query, lambda user: make_skiptoken(user.seq))


async def get_user(request: Request, emulator: Emulator) -> Response:
    """GET /users/{id}: the default property set unless $select names others."""
    check_options(request, {"$select", "$expand"})
    select = select_option(request, USER_PROPERTIES, "user")
    expansion = sponsor_expansion(request)
    if signin.requested(select):
        signin.check_readable(emulator)
    user = visible_user(emulator, request.path_params["user_id"])
    body = {"@odata.context": entity_context(request, "users", select)}
    body.update(expanded(emulator, signin.shown(emulator, project(user.props, select, USER_DEFAULT_SELECT)), user,
                         expansion))
    return graph_json(body)


async def update_user(request: Request, emulator: Emulator) -> Response:
    """PATCH /users/{id} → 204; only writable properties, each of the right type."""
    changes = user_changes(await json_object(request))
    user = emulator.directory.live_user(request.path_params["user_id"])
    if user is None:
        raise not_found(request.path_params["user_id"])
    if not user.take_reference():
        raise object_not_found()
    user.props.update(changes)
    return no_content()


def user_changes(body: dict) -> dict:
    """The property changes of a PATCH body; 400 Request_BadRequest for unknown, read-only or mistyped ones."""
    changes = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            _check_annotation(name, value)
            continue
        if name not in USER_PROPERTIES:
            raise request_bad_request(f"Invalid property '{name}'.")
        if name not in USER_WRITABLE:
            raise request_bad_request(f"Property '{name}' is read-only and cannot be set.")
        if not valid_value(USER_PROPERTIES[name], value) or (name == "displayName" and not value):
            raise request_bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")
        changes[name] = value
    return changes


def _check_annotation(name: str, value: object) -> None:
    if name == "@odata.type" and str(value).lower() not in (USER_TYPE.lower(), USER_TYPE[1:].lower()):
        raise bad_request(f"A type named '{value}' could not be resolved by the model.")


async def revoke_sessions(request: Request, emulator: Emulator) -> Response:
    """POST /users/{id}/revokeSignInSessions → 200 {"value": true}; sign-ins before now become invalid."""
    await json_object(request, optional=True)
    user = visible_user(emulator, request.path_params["user_id"])
    user.props["signInSessionsValidFromDateTime"] = graph_timestamp(utc_now())
    return graph_json({"@odata.context": context_url(request, "Edm.Boolean"), "value": True})


async def delete_user(request: Request, emulator: Emulator) -> Response:
    """DELETE /users/{id} → 204: a soft delete, restorable for 30 days with its memberships."""
    user = visible_user(emulator, request.path_params["user_id"])
    emulator.directory.soft_delete(user, utc_now())
    return no_content()


async def member_of(request: Request, emulator: Emulator) -> Response:
    """GET /users/{id}/memberOf: the groups the user belongs to, as directoryObjects."""
    query = relation_query(request, GROUP_PROPERTIES, "group")
    user: UserRecord = visible_user(emulator, request.path_params["user_id"])
    groups = emulator.directory.groups_of(user.id)
    items, link = page(groups, request, query)
    values = [typed(group.props, query.select, GROUP_DEFAULT_SELECT, GROUP_TYPE) for group in items]
    context = collection_context(request, "directoryObjects", query.select)
    return graph_json(collection_body(context, values, link, len(groups) if query.count else None))

"""Graph handlers for /groups: read a group, list members, add and remove members by reference."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from . import signin
from .errors import GraphError, bad_request, invalid_object_id, not_found, request_bad_request, request_denied
from .lookup import existing_group, referenced_user
from .odata import check_options, page, relation_query, select_option
from .responses import graph_json, is_guid, json_object, no_content, require_guid
from .schema import GROUP_DEFAULT_SELECT, GROUP_PROPERTIES, GROUP_TYPE, USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .store import GroupRecord, UserRecord
from .views import collection_body, collection_context, entity_context, project, typed

MAX_BIND = 20
ALREADY_MEMBER = ("One or more added object references already exist for the following modified properties: "
                  "'members'.")
ON_PREMISES_MASTERED = ("Unable to update the specified properties for on-premises mastered Directory Sync objects or "
                        "objects currently undergoing migration.")
_REFERENCE_PATH = re.compile(r"/(?:directoryObjects|users)/([^/]+)/?$", re.IGNORECASE)


async def get_group(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id} with optional $select."""
    check_options(request, {"$select"})
    select = select_option(request, GROUP_PROPERTIES, "group")
    group = existing_group(emulator, request.path_params["group_id"])
    body = {"@odata.context": entity_context(request, "groups", select)}
    body.update(project(group.props, select, GROUP_DEFAULT_SELECT))
    return graph_json(body)


async def list_members(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/members: the direct members (users and nested groups) as typed directoryObjects, paged."""
    query = relation_query(request, USER_PROPERTIES, "user")
    if signin.requested(query.select):
        signin.check_readable(emulator, query.top)
    group = existing_group(emulator, request.path_params["group_id"])
    members = [emulator.directory.users.get(member_id) or emulator.directory.groups[member_id]
               for member_id in group.members]
    items, link = page(members, request, query)
    values = [directory_object(emulator, member, query.select) for member in items]
    context = collection_context(request, "directoryObjects", query.select)
    return graph_json(collection_body(context, values, link, len(members) if query.count else None))


async def list_transitive_members(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/transitiveMembers: every user and group under the group, nested ones resolved, each once
    (Graph v1.0 group-list-transitivemembers.md), as typed directoryObjects, paged."""
    query = relation_query(request, USER_PROPERTIES, "user")
    if signin.requested(query.select):
        signin.check_readable(emulator, query.top)
    users, groups = emulator.directory.transitive_members(existing_group(emulator, request.path_params["group_id"]))
    members: list[UserRecord | GroupRecord] = [*users, *groups]
    items, link = page(members, request, query)
    values = [directory_object(emulator, member, query.select) for member in items]
    context = collection_context(request, "directoryObjects", query.select)
    return graph_json(collection_body(context, values, link, len(members) if query.count else None))


async def list_transitive_users(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/transitiveMembers/microsoft.graph.user: the users only (OData cast), each once, paged;
    the collection is `users`, its items carry no `@odata.type` (the doc's cast example)."""
    query = relation_query(request, USER_PROPERTIES, "user")
    if signin.requested(query.select):
        signin.check_readable(emulator, query.top)
    users, _ = emulator.directory.transitive_members(existing_group(emulator, request.path_params["group_id"]))
    items, link = page(users, request, query)
    values = [signin.shown(emulator, project(user.props, query.select, USER_DEFAULT_SELECT)) for user in items]
    context = collection_context(request, "users", query.select)
    return graph_json(collection_body(context, values, link, len(users) if query.count else None))


def directory_object(emulator: Emulator, member: UserRecord | GroupRecord, select: list[str] | None) -> dict:
    """A user or group of a mixed collection, typed; a group shows the selected names it has."""
    if isinstance(member, UserRecord):
        return signin.shown(emulator, typed(member.props, select, USER_DEFAULT_SELECT, USER_TYPE))
    group_select = [name for name in select if name in member.props] if select is not None else None
    return typed(member.props, group_select, GROUP_DEFAULT_SELECT, GROUP_TYPE)


async def add_member(request: Request, emulator: Emulator) -> Response:
    """POST /groups/{id}/members/$ref {"@odata.id": ".../directoryObjects/{id}"} → 204."""
    member_id = reference_target(await json_object(request))
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    user = referenced_user(emulator, member_id)
    if user.id in group.members:
        raise request_bad_request(ALREADY_MEMBER)
    group.members[user.id] = None
    return no_content()


async def bind_members(request: Request, emulator: Emulator) -> Response:
    """PATCH /groups/{id} {"members@odata.bind": [up to 20 references]} → 204, all or nothing."""
    body = await json_object(request)
    references = body.pop("members@odata.bind", None)
    if body or not isinstance(references, list) or not references:
        raise request_bad_request("The emulator's PATCH /groups/{id} takes only a non-empty 'members@odata.bind'.")
    if len(references) > MAX_BIND:
        raise bad_request(f"At most {MAX_BIND} members can be added in one request.")
    member_ids = [reference_id(reference) for reference in references]
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    users = [referenced_user(emulator, member_id) for member_id in member_ids]
    if any(user.id in group.members for user in users) or len(set(member_ids)) < len(member_ids):
        raise request_bad_request(ALREADY_MEMBER)
    group.members.update({user.id: None for user in users})
    return no_content()


def member_write_refusal(props: dict) -> GraphError | None:
    """What Graph answers a member write on a group that refuses it whatever you retry (REFERENCE.md, groups):
    - dynamic membership: 403 Authorization_RequestDenied "Insufficient privileges to complete the operation."
      (publicly reported, e.g. KelvinTegelaar/CIPP#468 adding a user to a dynamic "All Users" group);
    - role-assignable: 403 Authorization_RequestDenied unless the app also holds RoleManagement.ReadWrite.Directory
      (group-post-members permissions; microsoftgraph/microsoft-graph-docs#14730); the emulated app does not;
    - mastered on-premises: 400 Request_BadRequest "Unable to update the specified properties for on-premises
      mastered Directory Sync objects ..." (the directory's answer to any cloud write on a synced object)."""
    if "dynamicmembership" in [kind.lower() for kind in props.get("groupTypes") or []]:
        return request_denied()
    if props.get("onPremisesSyncEnabled"):
        return request_bad_request(ON_PREMISES_MASTERED)
    if props.get("isAssignableToRole"):
        return request_denied()
    return None


def refuse_member_writes(props: dict) -> None:
    refusal = member_write_refusal(props)
    if refusal is not None:
        raise refusal


def reference_target(body: dict) -> str:
    """The object id the `@odata.id` of a members/$ref body names."""
    return reference_id(body.get("@odata.id"))


def reference_id(reference: object) -> str:
    """The object id an `@odata.id` reference names (…/directoryObjects/{id} or …/users/{id})."""
    if not isinstance(reference, str) or not reference.strip():
        raise bad_request("The request body must contain an '@odata.id' reference to a directory object.")
    match = _REFERENCE_PATH.search(urlsplit(reference.strip()).path)
    if match is None or not is_guid(unquote(match.group(1))):
        raise invalid_object_id(reference)
    return unquote(match.group(1)).lower()


async def remove_member(request: Request, emulator: Emulator) -> Response:
    """DELETE /groups/{id}/members/{id}/$ref → 204; not a member → 404 naming the group."""
    group = existing_group(emulator, request.path_params["group_id"])
    refuse_member_writes(group.props)
    member_id = require_guid(request.path_params["member_id"])
    if member_id not in group.members:
        raise not_found(group.id)
    del group.members[member_id]
    return no_content()

"""Graph handlers that read groups: a group, its direct members, its transitive members, and the OData casts of both
to users. Member writes are in routes_members.

Sources: api-reference/v1.0/api/group-list-members.md and group-list-transitivemembers.md: the members are
directoryObjects, each with `@odata.type`; the request header table of both pages: "ConsistencyLevel: eventual. This
header and `$count` are required when using the `$search`, `$filter`, `$orderby`, or OData cast query parameters";
group-list-transitivemembers.md: "To filter the results on the OData type, such as `microsoft.graph.user` ..., you
must use the advanced query parameters. That is, the ConsistencyLevel header set to `eventual` and the `$count=true`
query string"; concepts/query-parameters.md: the ConsistencyLevel header "is not included by default in subsequent
page requests. It must be set explicitly in subsequent pages" (so a next page without it is refused too). The page
does not quote the error; the code is the advanced-query refusal's, Request_UnsupportedQuery, the words the
emulator's. A plain `/members` or `/transitiveMembers` takes neither (only its `$count` needs the header)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import signin
from .errors import unsupported_query
from .lookup import existing_group
from .odata import CollectionQuery, check_options, is_eventual, page, relation_query, select_option
from .responses import graph_json
from .schema import GROUP_DEFAULT_SELECT, GROUP_PROPERTIES, GROUP_TYPE, USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE
from .state import Emulator
from .store import GroupRecord, UserRecord
from .views import collection_body, collection_context, entity_context, project, typed

CAST_NEEDS_ADVANCED_QUERY = ("An OData cast on a directory object relationship requires the advanced query "
                             "parameters: the ConsistencyLevel:eventual header and $count=true. Refer to "
                             "https://aka.ms/graph-docs/advanced-queries for more information")


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
    query = _member_query(request, emulator)
    group = existing_group(emulator, request.path_params["group_id"])
    members = [emulator.directory.users.get(member_id) or emulator.directory.groups[member_id]
               for member_id in group.members]
    return _directory_objects(request, emulator, query, [m for m in members if _listed(m)])


async def list_member_users(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/members/microsoft.graph.user: the direct members that are users (OData cast; advanced query
    only)."""
    query = _cast_query(request, emulator)
    group = existing_group(emulator, request.path_params["group_id"])
    users = [emulator.directory.users[member_id] for member_id in group.members
             if member_id in emulator.directory.users and not emulator.directory.users[member_id].deleted]
    return _users(request, emulator, query, users)


async def list_transitive_members(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/transitiveMembers: every user and group under the group, nested ones resolved, each once
    (Graph v1.0 group-list-transitivemembers.md), as typed directoryObjects, paged."""
    query = _member_query(request, emulator)
    users, groups = emulator.directory.transitive_members(existing_group(emulator, request.path_params["group_id"]))
    return _directory_objects(request, emulator, query, [*users, *groups])


async def list_transitive_users(request: Request, emulator: Emulator) -> Response:
    """GET /groups/{id}/transitiveMembers/microsoft.graph.user: the users only (OData cast; advanced query only), each
    once, paged; the collection is `users`, its items carry no `@odata.type` (the doc's cast example)."""
    query = _cast_query(request, emulator)
    users, _ = emulator.directory.transitive_members(existing_group(emulator, request.path_params["group_id"]))
    return _users(request, emulator, query, users)


def _member_query(request: Request, emulator: Emulator) -> CollectionQuery:
    query = relation_query(request, USER_PROPERTIES, "user")
    if signin.requested(query.select):
        signin.check_readable(emulator)
        query.top = signin.page_size(query.top)
    return query


def _cast_query(request: Request, emulator: Emulator) -> CollectionQuery:
    """The options of an OData cast, which Graph serves only as an advanced query (on every page)."""
    query = _member_query(request, emulator)
    if not (query.count and is_eventual(request)):
        raise unsupported_query(CAST_NEEDS_ADVANCED_QUERY)
    return query


def _listed(member: UserRecord | GroupRecord) -> bool:
    return not isinstance(member, UserRecord) or not member.deleted


def _directory_objects(request: Request, emulator: Emulator, query: CollectionQuery,
                       members: list[UserRecord | GroupRecord]) -> Response:
    items, link = page(members, request, query)
    values = [directory_object(emulator, member, query.select) for member in items]
    context = collection_context(request, "directoryObjects", query.select)
    return graph_json(collection_body(context, values, link, len(members) if query.count else None))


def _users(request: Request, emulator: Emulator, query: CollectionQuery, users: list[UserRecord]) -> Response:
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

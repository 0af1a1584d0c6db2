"""The Graph v1.0 route table: resource templates, their handlers, $batch, and Graph's answer for unknown segments."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import routes_batch as batch
from . import routes_directory as directory
from . import routes_groups as groups
from . import routes_invitations as invitations
from . import routes_members as members
from . import routes_sponsors as sponsors
from . import routes_users as users
from .errors import bad_request
from .pipeline import Endpoint, Handler, graph_endpoint, serve_graph
from .state import Emulator

ROOT = "/v1.0"
_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_KNOWN_ROOTS = ("invitations", "users", "groups", "directory")

# (count key template, path templates served, handlers per method)
GRAPH_RESOURCES: list[tuple[str, tuple[str, ...], dict[str, Handler]]] = [
    ("/invitations", ("/invitations",), {"POST": invitations.create_invitation}),
    ("/users", ("/users",), {"GET": users.list_users}),
    ("/users/{id}", ("/users/{user_id}",),
     {"GET": users.get_user, "PATCH": users.update_user, "DELETE": users.delete_user}),
    ("/users/{id}/revokeSignInSessions",
     ("/users/{user_id}/revokeSignInSessions", "/users/{user_id}/microsoft.graph.revokeSignInSessions"),
     {"POST": users.revoke_sessions}),
    ("/users/{id}/memberOf", ("/users/{user_id}/memberOf",), {"GET": users.member_of}),
    ("/users/{id}/sponsors", ("/users/{user_id}/sponsors",), {"GET": sponsors.list_sponsors}),
    ("/users/{id}/sponsors/$ref", ("/users/{user_id}/sponsors/$ref",), {"POST": sponsors.add_sponsor}),
    ("/groups/{id}", ("/groups/{group_id}",), {"GET": groups.get_group, "PATCH": members.bind_members}),
    ("/groups/{id}/members", ("/groups/{group_id}/members",), {"GET": groups.list_members}),
    ("/groups/{id}/members/microsoft.graph.user",
     ("/groups/{group_id}/members/microsoft.graph.user", "/groups/{group_id}/members/graph.user"),
     {"GET": groups.list_member_users}),
    ("/groups/{id}/transitiveMembers", ("/groups/{group_id}/transitiveMembers",),
     {"GET": groups.list_transitive_members}),
    ("/groups/{id}/transitiveMembers/microsoft.graph.user",
     # `graph.` is the namespace alias Graph accepts for `microsoft.graph.`; msgraph-sdk's request builder sends it.
     ("/groups/{group_id}/transitiveMembers/microsoft.graph.user", "/groups/{group_id}/transitiveMembers/graph.user"),
     {"GET": groups.list_transitive_users}),
    ("/groups/{id}/members/$ref", ("/groups/{group_id}/members/$ref",), {"POST": members.add_member}),
    ("/groups/{id}/members/{id}/$ref", ("/groups/{group_id}/members/{member_id}/$ref",),
     {"DELETE": members.remove_member}),
    ("/directory/deletedItems/{id}", ("/directory/deletedItems/{object_id}",),
     {"GET": directory.get_deleted, "DELETE": directory.purge_deleted}),
    ("/directory/deletedItems/{id}/restore",
     ("/directory/deletedItems/{object_id}/restore", "/directory/deletedItems/{object_id}/microsoft.graph.restore"),
     {"POST": directory.restore_deleted}),
    (batch.ROUTE, (batch.ROUTE,), {"POST": batch.run_batch}),
]


def graph_routes() -> list[Route]:
    """Starlette routes for every Graph resource, then a catch-all answering like Graph does."""
    routes = [Route(ROOT + path, _endpoint(key, handlers), methods=_METHODS)
              for key, paths, handlers in GRAPH_RESOURCES for path in paths]
    routes.append(Route(ROOT, _unknown_segment, methods=_METHODS))
    routes.append(Route(ROOT + "/{rest:path}", _unknown_segment, methods=_METHODS))
    return routes


def _endpoint(key: str, handlers: dict[str, Handler]) -> Endpoint:
    """$batch has an endpoint of its own (items are charged, the envelope is not); every other route the pipeline's."""
    return batch.batch_endpoint(key, handlers) if key == batch.ROUTE else graph_endpoint(key, handlers)


async def _unknown_segment(request: Request) -> Response:
    path = request.url.path[len(ROOT):] or "/"
    return await serve_graph(request, path, _segment_not_found)


async def _segment_not_found(request: Request, emulator: Emulator) -> Response:
    segments = [part for part in request.url.path[len(ROOT):].split("/") if part]
    segment = segments[-1] if segments and segments[0] in _KNOWN_ROOTS else (segments or [""])[0]
    raise bad_request(f"Resource not found for the segment '{segment}'.")

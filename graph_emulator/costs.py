"""What each request costs against Graph's identity and access quotas.

Source: concepts/throttling-limits.md, "Identity and access service limits", table of base request costs: GET `users`
2, GET `groups/{id}/members` 3, GET `groups/{id}/transitiveMembers` 5, GET `me/memberOf` 2 ("Any request cost that
applies to a request path starting with `me/` also applies to equivalent requests starting with `users/{id |
userPrincipalName}/`"), any other GET 1, POST/PATCH/PUT/DELETE 1 resource unit and 1 write. "Other factors that
affect a request cost: Using `$select` decreases cost by 1; Using `$expand` increases cost by 1; Using `$top` with a
value of less than 20 decreases cost by 1 ... A request cost can never be lower than 1."

An OData cast of a relationship (`/members/microsoft.graph.user`, `/transitiveMembers/microsoft.graph.user`) is a
request on that relationship's path and costs what it costs. The `$batch` envelope is not an operation of the table:
its items are charged one by one (routes_batch)."""

from __future__ import annotations

from collections.abc import Mapping

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_BASE_GET_COSTS = {
    "/users": 2,
    "/users/{id}/memberOf": 2,
    "/groups/{id}/members": 3,
    "/groups/{id}/members/microsoft.graph.user": 3,
    "/groups/{id}/transitiveMembers": 5,
    "/groups/{id}/transitiveMembers/microsoft.graph.user": 5,
}


def resource_cost(method: str, route: str, query: Mapping[str, str]) -> int:
    """Resource units Graph charges for `method` on the route template `route` with the query options `query`."""
    cost = _BASE_GET_COSTS.get(route, 1) if method == "GET" else 1
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    top = query.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


def write_cost(method: str) -> int:
    """Writes Graph counts against the write quota: 1 for POST, PATCH, PUT and DELETE, 0 for GET."""
    return 1 if method in WRITE_METHODS else 0

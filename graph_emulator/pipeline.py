"""The path every Graph request takes: ids, latency, auth, quotas, faults, the handler, then counting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from .costs import resource_cost
from .errors import GraphError, method_not_allowed
from .identity import IdentityIssuer
from .quotas import EMULATED_APPLICATION_ID, charge_request
from .responses import graph_json, new_guid
from .state import Emulator

Handler = Callable[[Request, Emulator], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("graph_emulator")
# A Graph token's audience: the resource URI (v1 tokens) or Graph's application id (v2 tokens).
# https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims
GRAPH_AUDIENCES = frozenset({"https://graph.microsoft.com", "https://graph.microsoft.com/",
                             "00000003-0000-0000-c000-000000000000"})
# ASGI scope key marking a request that routes_batch dispatches as an item of a $batch (a header could be forged
# by any caller; the scope is set only inside the process).
BATCH_ITEM = "graph_emulator.batch_item"
_WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                     'client_id="00000003-0000-0000-c000-000000000000"')


def graph_endpoint(route: str, handlers: dict[str, Handler]) -> Endpoint:
    """A Starlette endpoint serving `route` (a template such as `/users/{id}`) with a handler per method;
    other methods get Graph's 405."""
    async def endpoint(request: Request) -> Response:
        handler = handlers.get(request.method, _method_not_allowed)
        return await serve_graph(request, route, handler)
    return endpoint


async def _method_not_allowed(request: Request, emulator: Emulator) -> Response:
    raise method_not_allowed()


async def serve_graph(request: Request, route: str, handler: Handler) -> Response:
    """Run one Graph request through the pipeline; every outcome is counted and carries Graph's id headers."""
    emulator: Emulator = request.app.state.emulator
    arrived = time.monotonic()
    request.state.token = None
    request.state.application_id = _default_application_id(request)
    response, kind = await in_graph_shape(request, lambda: _process(request, emulator, route, handler))
    if hasattr(request.state, "resource_units"):
        response.headers["x-ms-resource-unit"] = str(request.state.resource_units)
    limit_percentage = getattr(request.state, "limit_percentage", None)
    if limit_percentage is not None and response.status_code != 429:
        response.headers["x-ms-throttle-limit-percentage"] = limit_percentage
    emulator.calls.record(request.method, route, request.url.path, response.status_code, kind,
                          token=request.state.token, arrived=arrived,
                          retry_after=response.headers.get("Retry-After"))
    return response


async def in_graph_shape(request: Request, run: Callable[[], Awaitable[Response]]) -> tuple[Response, str | None]:
    """The answer of `run`, or Graph's error answer for the GraphError it raised (an emulator bug answers 500 in
    the same shape), with Graph's id headers either way; and the error's kind (None when it answered)."""
    request_id = new_guid()
    client_request_id = request.headers.get("client-request-id") or new_guid()
    kind = None
    try:
        response = await run()
    except GraphError as error:
        response, kind = _error_response(error, request_id, client_request_id), error.kind
    except Exception:  # a bug in the emulator must still answer in Graph's shape
        log.exception("emulator failure on %s %s", request.method, request.url.path)
        error = GraphError(500, "InternalServerError", "The Graph emulator failed; see its log.")
        response = _error_response(error, request_id, client_request_id)
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id
    return response, kind


async def _process(request: Request, emulator: Emulator, route: str, handler: Handler) -> Response:
    if emulator.switches.latency_ms > 0 and not request.scope.get(BATCH_ITEM):  # an item crosses no network
        await asyncio.sleep(emulator.switches.latency_ms / 1000)
    _authenticate(request, emulator.switches.strict_auth)
    _charge(request, emulator, route)
    fault = emulator.faults.draw(emulator.switches)
    if fault is not None and fault.phase == "before":
        raise fault.error()
    try:
        response = await handler(request, emulator)
    except GraphError:
        if fault is None:
            raise
    if fault is not None:  # phase "after": the work is done, the caller still hears a failure
        raise fault.error()
    return response


def _authenticate(request: Request, strict: bool) -> None:
    """A bearer token must be there; with strictAuth it must be a live Graph token of the identity endpoint.

    Graph answers 401 InvalidAuthenticationToken for a missing, expired, foreign or wrong-audience token
    (https://learn.microsoft.com/graph/errors#http-status-codes, "Access token validation failure")."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        message = "Access token is empty." if not header else "Access token validation failure. Invalid audience."
        raise _unauthenticated(message)
    identity: IdentityIssuer | None = getattr(request.app.state, "identity", None)
    claims = identity.verify(token) if identity is not None else None
    if claims is None:
        if strict:
            raise _unauthenticated("Access token validation failure.")
        return
    request.state.token = {"aud": claims.get("aud"), "jti": claims.get("jti")}
    request.state.application_id = claims.get("appid") or _default_application_id(request)
    if strict and claims.get("aud") not in GRAPH_AUDIENCES:
        raise _unauthenticated("Access token validation failure. Invalid audience.")


def _unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": _WWW_AUTHENTICATE})


def _default_application_id(request: Request) -> str:
    """The caller's application id when its token does not name one: the platform identity's client id (the app
    under test signs in as it), else a fixed id."""
    identity: IdentityIssuer | None = getattr(request.app.state, "identity", None)
    return identity.client_id if identity is not None else EMULATED_APPLICATION_ID


def _charge(request: Request, emulator: Emulator, route: str) -> None:
    """Count the request's resource units, then charge it against every quota (quotas.charge_request)."""
    cost = resource_cost(request.method, route, request.query_params)
    request.state.resource_units = cost
    emulator.calls.resource_units += cost
    charge = charge_request(emulator.quotas, emulator.switches, request.method, route, request.query_params,
                            request.state.application_id)
    request.state.limit_percentage = charge.limit_percentage


def _error_response(error: GraphError, request_id: str, client_request_id: str) -> Response:
    return graph_json(error.body(request_id, client_request_id), status=error.status, headers=error.headers)

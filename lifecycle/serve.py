"""Serve exactly the HTTP functions `function_app.app` registers, for machines without Azure Functions Core Tools.

Routes, methods and auth levels come from `app.get_functions()`; FUNCTION/ADMIN routes need the key in the
`x-functions-key` header or the `code` query parameter, as with the Functions host."""
from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROUTE_PREFIX = "/api"
_PLATFORM_HEADERS = ("x-ms-client-principal", "x-ms-client-principal-id", "x-ms-client-principal-name",
                     "x-ms-client-principal-idp")
_CONSTRAINT = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    handler: Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


_INDEXED: dict[int, list[Any]] = {}


def indexed_functions(app: func.FunctionApp) -> list[Any]:
    """`app.get_functions()`, once per app (the SDK refuses to index an app twice). In the Functions host, which
    has indexed the app itself, the functions are built again from the app's builders instead."""
    if id(app) not in _INDEXED:
        if app.functions_bindings:
            _INDEXED[id(app)] = [builder.build(app.auth_level) for builder in app._function_builders]
        else:
            _INDEXED[id(app)] = list(app.get_functions())
    return _INDEXED[id(app)]


def http_functions(app: func.FunctionApp) -> list[HttpFunction]:
    """The HTTP-triggered functions of the app, as the Functions host indexes them."""
    found = []
    for function in indexed_functions(app):
        spec = json.loads(function.get_function_json())
        for binding in spec.get("bindings", []):
            if binding.get("type") == "httpTrigger":
                methods = tuple(m.upper() for m in binding.get("methods") or ("GET", "POST", "PUT", "DELETE"))
                found.append(HttpFunction(function.get_function_name(), binding.get("route") or spec["name"],
                                          methods, str(binding.get("authLevel", "FUNCTION")).upper(),
                                          function.get_user_function()))
    return found


def build_asgi_app(app: func.FunctionApp, function_key: str) -> Starlette:
    routes = [Route(ROUTE_PREFIX + "/" + _CONSTRAINT.sub(r"{\1}", f.route), _endpoint(f, function_key),
                    methods=list(f.methods), name=f.name) for f in http_functions(app)]
    return Starlette(routes=routes, lifespan=_lifespan)


@asynccontextmanager
async def _lifespan(_: Starlette) -> AsyncIterator[None]:
    yield
    from lifecycle.wiring import container

    await container.close_current()


def _authorized(request: Request, level: str, key: str) -> bool:
    if level == "ANONYMOUS":
        return True
    given = request.headers.get("x-functions-key") or request.query_params.get("code") or ""
    return hmac.compare_digest(given.encode(), key.encode())


def _endpoint(function: HttpFunction, key: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not _authorized(request, function.auth_level, key):
            body = {"error": {"code": "Unauthorized", "message": "a valid function key is required", "details": []}}
            return Response(json.dumps(body), 401, media_type="application/json")
        result = await function.handler(await _to_function_request(request))
        return _to_response(result)

    return endpoint


async def _to_function_request(request: Request) -> func.HttpRequest:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _PLATFORM_HEADERS}
    return func.HttpRequest(method=request.method, url=str(request.url), headers=headers,
                            params=dict(request.query_params), route_params=dict(request.path_params),
                            body=await request.body())


def _to_response(result: func.HttpResponse) -> Response:
    headers: dict[str, Any] = {k: v for k, v in result.headers.items() if k.lower() != "content-type"}
    return Response(result.get_body(), result.status_code, headers=headers, media_type=result.mimetype)

"""Serve exactly the HTTP functions `function_app.app` registers, for machines without Azure Functions Core Tools.

Routes, methods and auth levels come from `app.get_functions()`; FUNCTION/ADMIN routes need the key in the
`x-functions-key` header or the `code` query parameter, as with the Functions host. A body is read in chunks and
refused with 413 once it passes `max_body_bytes`; unknown routes and methods answer the API's JSON error shape.
With LIFECYCLE_HTTP_AUTH=entra it plays App Service authentication as well (devserver/easy_auth.py): sign-in at
/.auth/login/aad, the session's principal headers on each request, 401 for the paths the platform guards."""
from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devserver.easy_auth import EasyAuth
from lifecycle.config import entra_authentication_enabled
from lifecycle.http.schemas import MAX_BODY_BYTES
from lifecycle.registry import HttpFunction, http_functions

ROUTE_PREFIX = "/api"
_PLATFORM_HEADERS = ("x-ms-client-principal", "x-ms-client-principal-id", "x-ms-client-principal-name",
                     "x-ms-client-principal-idp")
_CONSTRAINT = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_HTTP_ERRORS = {404: ("NotFound", "no function answers this route"),
                405: ("MethodNotAllowed", "this route does not accept this method")}


class BodyTooLarge(Exception):
    """The request body passed the server's limit."""


def build_asgi_app(app: func.FunctionApp, function_key: str, *, max_body_bytes: int = MAX_BODY_BYTES,
                   easy_auth: EasyAuth | None = None) -> Starlette:
    """An ASGI app serving the HTTP functions of `app` under /api, guarded by `function_key`, and with
    LIFECYCLE_HTTP_AUTH=entra by App Service authentication as `easy_auth` (default: as the environment says)."""
    if easy_auth is None and entra_authentication_enabled():
        easy_auth = EasyAuth.from_env()
    routes = [Route(ROUTE_PREFIX + "/" + _CONSTRAINT.sub(r"{\1}", f.route),
                    _endpoint(f, function_key, max_body_bytes, easy_auth), methods=list(f.methods), name=f.name)
              for f in http_functions(app)]
    routes += easy_auth.routes() if easy_auth else []
    return Starlette(routes=routes, lifespan=_lifespan, exception_handlers={HTTPException: _http_error})


@asynccontextmanager
async def _lifespan(_: Starlette) -> AsyncIterator[None]:
    yield
    from lifecycle.wiring import container

    await container.close_current()


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error shape: {"error": {"code", "message", "details"}}."""
    body = {"error": {"code": code, "message": message, "details": []}}
    return Response(json.dumps(body), status, headers=headers, media_type="application/json")


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_ERRORS.get(exc.status_code, ("HttpError", str(exc.detail)))
    return error(exc.status_code, code, message, dict(exc.headers or {}))


def _authorized(request: Request, level: str, key: str) -> bool:
    if level == "ANONYMOUS":
        return True
    given = request.headers.get("x-functions-key") or request.query_params.get("code") or ""
    return hmac.compare_digest(given.encode(), key.encode())


def _endpoint(function: HttpFunction, key: str, max_body_bytes: int,
              easy_auth: EasyAuth | None) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not _authorized(request, function.auth_level, key):
            return error(401, "Unauthorized", "a valid function key is required")
        principal = easy_auth.principal_headers(request) if easy_auth else None
        if easy_auth and principal is None and easy_auth.guards(request.url.path):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="guest-lifecycle"'})
        try:
            body = await read_body(request, max_body_bytes)
        except BodyTooLarge:
            return error(413, "BodyTooLarge", f"the body is larger than {max_body_bytes} bytes",
                         {"Connection": "close"})
        result = await function.handler(_to_function_request(request, body, principal or {}))
        return _to_response(result)

    return endpoint


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk; raises BodyTooLarge as soon as it passes `limit` (or declares it will)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _to_function_request(request: Request, body: bytes, principal: dict[str, str]) -> func.HttpRequest:
    """The request as the host hands it to a function: the client's principal headers dropped, the platform's set."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _PLATFORM_HEADERS}
    headers.update(principal)
    return func.HttpRequest(method=request.method, url=str(request.url), headers=headers,
                            params=dict(request.query_params), route_params=dict(request.path_params), body=body)


def _to_response(result: func.HttpResponse) -> Response:
    headers: dict[str, Any] = {k: v for k, v in result.headers.items() if k.lower() != "content-type"}
    return Response(result.get_body(), result.status_code, headers=headers, media_type=result.mimetype)

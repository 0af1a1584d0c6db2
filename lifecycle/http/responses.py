"""The one place that turns results and errors into HTTP responses."""
from __future__ import annotations

import base64
import functools
import json
import os
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import azure.functions as func
from pydantic import BaseModel, ValidationError

from lifecycle.config import entra_authentication_enabled, is_loopback_host
from lifecycle.errors import DependencyError, InvalidRequest, LifecycleError, Unauthorized
from lifecycle.idempotency import MUTATING
from lifecycle.request_log import unit_of_work
from lifecycle.schemas import MAX_BODY_BYTES
from lifecycle.wiring import container

log = logging.getLogger("lifecycle.http")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers=headers or {})


def error_response(exc: LifecycleError) -> func.HttpResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, DependencyError) and exc.status == 503:
        headers["Retry-After"] = str(exc.retry_after or 10)
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return json_response(body, exc.status, headers)


def http_handler(handler: Handler, *, public: bool = False) -> Handler:
    """Wrap an HTTP function: every error becomes the documented JSON error shape. Unless `public`, a request
    must come through App Service authentication when LIFECYCLE_HTTP_AUTH=entra (the routes are then anonymous)."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            if not public:
                require_authenticated_caller(req)
            return await _handle(handler, req)
        except LifecycleError as exc:
            if exc.status >= 500:
                log.warning("%s -> %s %s", request_line(req), exc.status, loggable(exc.message))
            return error_response(exc)
        except Exception:  # a defect, never something the caller sent
            log.exception("unhandled error in %s", request_line(req))
            return error_response(LifecycleError("an unexpected error occurred"))

    return wrapper


def loggable(text: str, limit: int = 512) -> str:
    """Text a log line can carry: control characters (CR, LF, ...) and backslashes escaped, length bounded, so a caller
    cannot forge a line."""
    escaped = text.encode("unicode_escape").decode("ascii")  # also escapes non-ASCII: the line stays plain ASCII
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def request_line(req: func.HttpRequest) -> str:
    """Method and path for the log: never the query string (it may hold the function key in `code`), escaped."""
    path = urlsplit(req.url).path
    return f"{loggable(req.method, 16)} {loggable(unquote(path))}"


def public_http_handler(handler: Handler) -> Handler:
    """http_handler for routes open to anyone (health probe, API description)."""
    return http_handler(handler, public=True)


def platform_authentication_on() -> bool:
    return os.environ.get("WEBSITE_AUTH_ENABLED", "").lower() == "true"


def require_authenticated_caller(req: func.HttpRequest) -> None:
    if entra_authentication_enabled() and not (platform_authentication_on() and req.headers.get(
            "x-ms-client-principal")):
        raise Unauthorized("this API requires Microsoft Entra authentication (App Service authentication)")


async def _handle(handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    """Run with the Idempotency-Key rules, then send the events the request committed, also when it failed: what
    was committed before the failure reaches the queue at once (the outbox keeps what cannot be sent)."""
    if req.method.upper() not in MUTATING:
        return await handler(req)
    services = container.get()
    with unit_of_work() as written:
        try:
            return await services.idempotency.handle(req, lambda: handler(req))
        finally:
            await services.dispatcher.send(written)


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)]


def parse_body(req: func.HttpRequest, model: type[M], *, optional: bool = False) -> M:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest(f"the body is larger than {MAX_BODY_BYTES} bytes", code="BodyTooLarge")
    if not body.strip():
        if optional:
            body = b"{}"
        else:
            raise InvalidRequest("a JSON body is required")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidRequest("the request is not valid", details=validation_details(exc)) from None


def parse_query(req: func.HttpRequest, model: type[M]) -> M:
    try:
        params = {name: value for name, value in req.params.items() if name != "code"}  # the function key
        return model.model_validate(params)
    except ValidationError as exc:
        raise InvalidRequest("the query is not valid", details=validation_details(exc)) from None


def route_guid(req: func.HttpRequest, name: str) -> str:
    value = req.route_params.get(name, "")
    try:
        return str(UUID(value))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be a GUID", details=[{"field": name, "message": "not a GUID"}]) from None


def actor_of(req: func.HttpRequest) -> str:
    """Who called: the Entra principal that App Service authentication vouched for, else the function key.
    The principal headers are trusted only when the platform's authentication is on (it sets and sanitises them)."""
    if not platform_authentication_on():
        return "function-key"
    name = req.headers.get("x-ms-client-principal-name") or _principal_claim(req, "name", "appid", "azp")
    principal = req.headers.get("x-ms-client-principal-id") or _principal_claim(
        req, "http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
    if name or principal:
        return loggable(f"principal:{name or ''}{'/' + principal if principal else ''}", 256)
    return "function-key"


def _principal_claim(req: func.HttpRequest, *types: str) -> str:
    encoded = req.headers.get("x-ms-client-principal")
    if not encoded:
        return ""
    try:
        claims = json.loads(base64.b64decode(encoded)).get("claims", [])
        values = {c.get("typ"): c.get("val") for c in claims if isinstance(c, dict)}
    except (ValueError, TypeError, AttributeError):
        return ""
    return next((str(values[t]) for t in types if values.get(t)), "")


def base_url(req: func.HttpRequest) -> str:
    """The origin for links this API hands out (Location, OpenAPI `servers`), from a host it can trust: the app's own
    host name (WEBSITE_HOSTNAME, set by the platform) or loopback (a local run). Any other Host header, which a caller
    can forge, gives "" and so a relative link."""
    parts = urlsplit(req.url)
    own = os.environ.get("WEBSITE_HOSTNAME", "").lower()
    if own and parts.netloc.lower() == own:
        return f"https://{own}"
    try:
        port = parts.port
    except ValueError:
        return ""
    if is_loopback_host(parts.hostname) and parts.scheme in ("http", "https"):
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    return ""

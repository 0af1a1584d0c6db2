"""Each HTTP request logged once, when it ends: method, route (the template, ids as `{id}`), status and duration.
Never the query string (it may hold the function key in `code`), a header, a body, an email or an actor (a UPN is an
email): what is logged cannot carry personal data or a secret."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

import azure.functions as func

from lifecycle.http.errors import loggable
from lifecycle.logs import get_logger

log = get_logger("lifecycle.http")
REQUEST_EVENT = "HttpRequest"


def route_of(req: func.HttpRequest) -> str:
    """The path with each route parameter's value replaced by its name (`/api/guests/{id}/history`)."""
    path = unquote(urlsplit(req.url).path)
    for name, value in sorted(req.route_params.items(), key=lambda item: -len(item[1] or "")):
        if value:
            path = path.replace(f"/{value}", "/{" + name + "}")
    return loggable(path, 200)


async def logged(req: func.HttpRequest, answer: Callable[[], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await answer()
        status = response.status_code
        return response
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        (log.warning if status >= 500 else log.info)(
            REQUEST_EVENT, method=loggable(req.method, 16), route=route_of(req), status=status,
            durationMs=round(elapsed, 1))

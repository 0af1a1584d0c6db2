"""The one place that turns an error into an HTTP response: a LifecycleError into its status and the JSON error
shape, anything else into a 500 of the same shape (a defect: nothing a caller sends produces a 5xx)."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import azure.functions as func

from lifecycle.errors import DependencyError, LifecycleError
from lifecycle.http.responses import json_response
from lifecycle.logs import get_logger

log = get_logger("lifecycle.http")
DEFAULT_RETRY_AFTER = 10


def error_response(exc: LifecycleError) -> func.HttpResponse:
    """`{"error": {"code", "message", "details"}}` with the error's status; a 503 says when to retry."""
    headers: dict[str, str] = {}
    if isinstance(exc, DependencyError) and exc.status == 503:
        headers["Retry-After"] = str(exc.retry_after or DEFAULT_RETRY_AFTER)
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return json_response(body, exc.status, headers)


def answer_error(req: func.HttpRequest, exc: LifecycleError) -> func.HttpResponse:
    """The response for an error raised on purpose; a dependency failure (5xx) is logged."""
    if exc.status >= 500:
        log.warning("request refused", request=request_line(req), status=exc.status, error=loggable(exc.message))
    return error_response(exc)


def answer_defect(req: func.HttpRequest) -> func.HttpResponse:
    """The response for an unexpected exception (called inside its `except`): logged with its traceback, answered
    500 InternalError without its text."""
    log.exception("unhandled error", request=request_line(req))
    return error_response(LifecycleError("an unexpected error occurred"))


def loggable(text: str, limit: int = 512) -> str:
    """Text a log line can carry: control characters (CR, LF, ...) and backslashes escaped, length bounded, so a caller
    cannot forge a line."""
    escaped = text.encode("unicode_escape").decode("ascii")  # also escapes non-ASCII: the line stays plain ASCII
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def request_line(req: func.HttpRequest) -> str:
    """Method and path for the log: never the query string (it may hold the function key in `code`), escaped."""
    path = urlsplit(req.url).path
    return f"{loggable(req.method, 16)} {loggable(unquote(path))}"

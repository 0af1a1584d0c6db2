"""Response helpers: Graph's JSON content type, JSON bodies, request bodies, timestamps and ids."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from .errors import invalid_json, invalid_object_id

GRAPH_CONTENT_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
                      "IEEE754Compatible=false;charset=utf-8")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def graph_json(data: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the content type Graph sends."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    response = Response(body, status_code=status, headers=headers)
    response.headers["content-type"] = GRAPH_CONTENT_TYPE
    return response


def no_content() -> Response:
    """204 without body or content type."""
    return Response(status_code=204)


async def json_object(request: Request, *, optional: bool = False) -> dict:
    """The request body as a JSON object; 400 BadRequest when it is not one (an empty body is {} if optional)."""
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_json() from None
    if not isinstance(value, dict):
        raise invalid_json()
    return value


def is_guid(value: str) -> bool:
    """True for a GUID in its 8-4-4-4-12 form."""
    return bool(_GUID.match(value))


def require_guid(value: str) -> str:
    """The value lower-cased when it is a GUID; otherwise 400 Invalid object identifier."""
    if not is_guid(value):
        raise invalid_object_id(value)
    return value.lower()


def new_guid() -> str:
    """A random GUID string."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def graph_timestamp(moment: datetime) -> str:
    """A timestamp as Graph renders DateTimeOffset properties: `2026-11-22T10:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_root(request: Request) -> str:
    """The absolute Graph root this request came through, e.g. `http://127.0.0.1:8081/v1.0`."""
    return str(request.base_url).rstrip("/") + "/v1.0"


def context_url(request: Request, fragment: str) -> str:
    """An `@odata.context` value: `<root>/$metadata#<fragment>`."""
    return f"{graph_root(request)}/$metadata#{fragment}"

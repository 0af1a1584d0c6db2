"""POST /v1.0/$batch: JSON batching, as concepts/json-batching.md describes it.

The body is `{"requests": [{id, method, url, headers?, body?, dependsOn?}]}`: at most 20 requests, ids unique (not
case-sensitive), urls relative to the version root (`/users/{id}`), a Content-Type header with every body. A
malformed batch is answered 400 as a whole and runs nothing. A parseable one is answered 200 with
`{"responses": [{id, status, headers, body}]}`, in the order the items ran (the doc: "in any order"); an item runs
after the item it `dependsOn`, and when that one failed it does not run and answers 424 Failed Dependency.
(throttling.md says "the batch itself fails with a status code of 424" when an item is throttled; json-batching.md
says a parseable batch is 200 whatever its items answer, and that is what the emulator does.)

Each item is dispatched inside the app as a request of its own, so it takes its route's whole pipeline: the outer
request's bearer token (an item's own Authorization header is ignored), the charge against every quota (resource units,
writes, invitations: a throttled item answers 429 with its own Retry-After and x-ms-throttle-* headers: "requests in a
batch are evaluated individually against the applicable throttling limits"), random faults, the handler, and the call
log, which counts the item under its own route. The one step an item skips is the added network latency: items travel
inside Graph, not over the network, so the latency applies once, to the outer request. The item mark is a key of the
ASGI scope (`pipeline.BATCH_ITEM`) that only this module sets; a header would let any caller claim to be an item.

The outer request is delayed, authenticated and counted (as `POST /$batch`), but it is charged no resource units and
draws no fault: the costs Graph lists for identity and access (throttling-limits.md; costs.py) are per operation, the
batch envelope is not among them, and its items are charged one by one.

Only three shapes of `dependsOn` are served (json-batching.md, TIP under "Sequencing requests": "Batch should be either
fully sequential or fully parallel."; microsoftgraph/microsoft-graph-docs-contrib#2339, confirmed by the docs owner):
fully parallel (no item has `dependsOn`), fully sequential (each item after the first depends on exactly the one listed
before it), or every item depending on the first (the one further shape msgraph-sdk-javascript's
`BatchRequestContent.validateDependencies` accepts; the SDK also lets that shared item stand anywhere in the list, the
emulator only first: the stricter reading). Anything else, for example two independent chains in one envelope or an
item whose `dependsOn` names more than one request (the doc's items name at most one), is refused whole: 400
BadRequest "Batch should be either fully sequential or fully parallel.", nothing run.

A malformed batch answers 400 BadRequest. "Invalid batch payload format." (no `requests` list, an empty one, an item
without a string id, method or url, an absolute url), "Request Id {id} has to be unique in a batch.", "Write request
with id '{id}' does not contain a Content-Type header." and "Write request id : {id} does not contain Content-Type
header or body." (a POST, PATCH or PUT without a body, e.g. revokeSignInSessions: send `"body": {}`) are Graph's
words as its answers are quoted (msgraph-sdk-javascript#1451, Softeria/ms-365-mcp-server#677, msgraph-sdk-dotnet#2628).
The doc gives only the status, so the messages for more than 20 requests and for a `dependsOn` naming no request of
the batch (or the item itself) are the emulator's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from .errors import GraphError, bad_request, method_not_allowed
from .pipeline import BATCH_ITEM, Endpoint, Handler, _authenticate, in_graph_shape
from .responses import GRAPH_CONTENT_TYPE, graph_json, new_guid
from .state import Emulator

ROUTE = "/$batch"
MAX_REQUESTS = 20
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
_WRITES = frozenset({"POST", "PATCH", "PUT"})
_FROM_OUTER = (b"host", b"authorization")
_INVALID = "Invalid batch payload format."
NOT_SEQUENTIAL_OR_PARALLEL = "Batch should be either fully sequential or fully parallel."
_LOWER_CASE_HEADERS = frozenset({"request-id", "client-request-id"})

log = logging.getLogger("graph_emulator")


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch, checked; `depends_on` holds the lower-cased ids it waits for, in the order given."""

    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    depends_on: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.id.lower()


def batch_endpoint(route: str, handlers: dict[str, Handler]) -> Endpoint:
    """The endpoint of `/$batch` (the signature of `pipeline.graph_endpoint`): latency, auth, the handler, counting."""
    async def endpoint(request: Request) -> Response:
        return await _serve_outer(request, route, handlers.get(request.method))
    return endpoint


async def _serve_outer(request: Request, route: str, handler: Handler | None) -> Response:
    emulator: Emulator = request.app.state.emulator
    request.state.token = None
    response, _ = await in_graph_shape(request, lambda: _outer(request, emulator, handler))
    emulator.calls.record(request.method, route, request.url.path, response.status_code, None,
                          token=request.state.token)
    return response


async def _outer(request: Request, emulator: Emulator, handler: Handler | None) -> Response:
    if request.scope.get(BATCH_ITEM):
        raise bad_request("A batch request cannot contain another batch request.")
    if emulator.switches.latency_ms > 0:
        await asyncio.sleep(emulator.switches.latency_ms / 1000)
    _authenticate(request, emulator.switches.strict_auth)
    if handler is None:
        raise method_not_allowed()
    return await handler(request, emulator)


async def run_batch(request: Request, emulator: Emulator) -> Response:
    """POST /$batch → 200 with every item's answer; 400 for a malformed batch, nothing run."""
    items = execution_order(parse_batch(await request.body()))
    answers: dict[str, dict[str, Any]] = {}
    for item in items:
        failed = any(answers[key]["status"] >= 400 for key in item.depends_on)
        answers[item.key] = _failed_dependency(request, item) if failed else await _dispatch(request, item)
    return graph_json({"responses": list(answers.values())})


# --- reading the batch ---------------------------------------------------------------------------
def parse_batch(raw: bytes) -> list[BatchItem]:
    """The batch's items, checked as Graph checks them before running any."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(_INVALID) from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise bad_request(_INVALID)
    if len(requests) > MAX_REQUESTS:
        raise bad_request(f"A batch holds at most {MAX_REQUESTS} requests; this one holds {len(requests)}.")
    items = [_item(entry) for entry in requests]
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise bad_request(f"Request Id {item.id} has to be unique in a batch.")
        seen.add(item.key)
    return items


def _item(entry: Any) -> BatchItem:
    if not isinstance(entry, dict):
        raise bad_request(_INVALID)
    item_id, method, url = entry.get("id"), entry.get("method"), entry.get("url")
    if not (isinstance(item_id, str) and item_id and isinstance(method, str) and isinstance(url, str) and url):
        raise bad_request(_INVALID)
    method = method.upper()
    headers = entry.get("headers") or {}
    depends_on = entry.get("dependsOn") or []
    if method not in _METHODS or "://" in url or not _strings(headers) or not _string_list(depends_on):
        raise bad_request(_INVALID)
    return BatchItem(item_id, method, url, headers, _body(item_id, method, entry, headers),
                     tuple(key.lower() for key in depends_on))


def _strings(headers: Any) -> bool:
    return isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())


def _string_list(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _body(item_id: str, method: str, entry: dict[str, Any], headers: dict[str, str]) -> bytes | None:
    """The item's body as bytes: JSON for a JSON media type, text for text/*, else base64url-decoded."""
    if entry.get("body") is None:
        if method in _WRITES:
            raise bad_request(f"Write request id : {item_id} does not contain Content-Type header or body.")
        return None
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if content_type is None:
        raise bad_request(f"Write request with id '{item_id}' does not contain a Content-Type header.")
    body, media = entry["body"], content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return json.dumps(body).encode()
    if not isinstance(body, str):
        raise bad_request(_INVALID)
    if media.startswith("text/"):
        return body.encode()
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        raise bad_request(_INVALID) from None


def execution_order(items: list[BatchItem]) -> list[BatchItem]:
    """The items in the order they run, after checking the batch's shape: every `dependsOn` names one request of the
    batch other than the item itself, and the batch is fully parallel (no item depends on another), fully
    sequential (each item after the first depends on exactly the one listed before it) or fans out from the first
    (every other item depends on exactly the first); 400 for anything else. Any of the three runs in the order
    listed."""
    keys = {item.key for item in items}
    for item in items:
        if any(key not in keys or key == item.key for key in item.depends_on):
            raise bad_request(f"Request Id {item.id} depends on a request that is not in the batch.")
    if not (_parallel(items) or _sequential(items) or _fan_out(items)):
        raise bad_request(NOT_SEQUENTIAL_OR_PARALLEL)
    return items


def _parallel(items: list[BatchItem]) -> bool:
    return all(not item.depends_on for item in items)


def _sequential(items: list[BatchItem]) -> bool:
    return not items[0].depends_on and all(
        item.depends_on == (before.key,) for before, item in zip(items, items[1:], strict=False))


def _fan_out(items: list[BatchItem]) -> bool:
    return not items[0].depends_on and all(item.depends_on == (items[0].key,) for item in items[1:])


# --- running an item -----------------------------------------------------------------------------
async def _dispatch(request: Request, item: BatchItem) -> dict[str, Any]:
    """Run the item through the app as its own request and return its batch answer."""
    body = item.body or b""
    messages: list[dict[str, Any]] = []
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if body_sent:
            return {"type": "http.disconnect"}
        body_sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await request.app(_item_scope(request, item, len(body)), receive, send)
    start = next(message for message in messages if message["type"] == "http.response.start")
    content = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return _answer(item.id, start["status"], start.get("headers", []), content)


def _item_scope(request: Request, item: BatchItem, length: int) -> dict[str, Any]:
    """An item's ASGI scope: the outer request's connection, host and bearer token (and its client-request-id unless
    the item has one), the item's method, url, headers and body length, and the item mark."""
    outer = request.scope
    path, _, query = item.url.partition("?")
    path = f"{request.url.path.removesuffix(ROUTE)}/{path.lstrip('/')}"
    own = {name.lower().encode(): value.encode() for name, value in item.headers.items()}
    headers = [(name, value) for name, value in own.items() if name not in (*_FROM_OUTER, b"content-length")]
    headers += [(name, value) for name, value in outer["headers"]
                if name in _FROM_OUTER or (name == b"client-request-id" and name not in own)]
    headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "asgi": outer.get("asgi", {"version": "3.0"}),
            "http_version": outer.get("http_version", "1.1"), "scheme": outer.get("scheme", "http"),
            "server": outer.get("server"), "client": outer.get("client"), "root_path": outer.get("root_path", ""),
            "method": item.method, "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
            "headers": headers, "state": {}, BATCH_ITEM: True}


def _answer(item_id: str, status: int, raw_headers: list[tuple[bytes, bytes]], content: bytes) -> dict[str, Any]:
    headers = {_header_name(name.decode("latin-1")): value.decode("latin-1") for name, value in raw_headers
               if name.lower() != b"content-length"}
    answer: dict[str, Any] = {"id": item_id, "status": status, "headers": headers}
    if content:
        answer["body"] = _decoded(content, headers.get("Content-Type", ""))
    return answer


def _header_name(name: str) -> str:
    """Header names as Graph writes them in a batch answer: `Content-Type`, `Retry-After`, `x-ms-resource-unit`."""
    name = name.lower()
    if name.startswith("x-") or name in _LOWER_CASE_HEADERS:
        return name
    return "WWW-Authenticate" if name == "www-authenticate" else "-".join(part.capitalize() for part in name.split("-"))


def _decoded(content: bytes, content_type: str) -> Any:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return json.loads(content)
    if media.startswith("text/"):
        return content.decode("utf-8", "replace")
    return base64.urlsafe_b64encode(content).decode().rstrip("=")


def _failed_dependency(request: Request, item: BatchItem) -> dict[str, Any]:
    """424 for an item whose dependency failed; it never ran, so nothing counts it."""
    error = GraphError(424, "FailedDependency", "The request depends on a request of the batch that failed.")
    client_request_id = request.headers.get("client-request-id") or new_guid()
    return {"id": item.id, "status": 424, "headers": {"Content-Type": GRAPH_CONTENT_TYPE},
            "body": error.body(new_guid(), client_request_id)}

"""Idempotency-Key for POST/PUT/DELETE: claim a record, replay a completed response, reject one in progress or a
reused key with another body, release the claim when the request fails.

A stored response never keeps a redemption link (`inviteRedeemUrl`): it is a credential for the guest's account, and
the table keeps responses for 24 hours. A replay returns the record without it (re-invite for a new link)."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import azure.functions as func

from lifecycle.errors import Conflict, IdempotencyKeyReused, InvalidRequest
from lifecycle.ports import IdempotencyRecord, IdempotencyStore

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replay"
TTL = timedelta(hours=24)
STALE_IN_PROGRESS = timedelta(minutes=10)
MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("location", "retry-after")
MAX_STORED_BODY = 30_000
SECRET_FIELDS = ("inviteRedeemUrl",)


def fingerprint(req: func.HttpRequest) -> str:
    body = req.get_body() or b""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    path = req.url.split("?", 1)[0]
    path = path[path.find("/api/"):] if "/api/" in path else path
    return hashlib.sha256(f"{req.method.upper()} {path}\n".encode() + canonical).hexdigest()


class Idempotency:
    def __init__(self, store: IdempotencyStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def handle(self, req: func.HttpRequest,
                     run: Callable[[], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
        key = req.headers.get(HEADER)
        if key is None or req.method.upper() not in MUTATING:
            return await run()
        if not _KEY.match(key):
            raise InvalidRequest(f"{HEADER} must be 1-255 visible ASCII characters", code="InvalidIdempotencyKey")
        now = self._clock()
        wanted = IdempotencyRecord(key=key, fingerprint=fingerprint(req), status="in_progress",
                                   expires_at=now + TTL, started_at=now)
        record, replay = await self._claim(wanted, now)
        if replay is not None:
            return replay
        try:
            response = await run()
        except BaseException:
            await self._store.release(record)
            raise
        await self._complete(record, response)
        return response

    async def _claim(self, wanted: IdempotencyRecord, now: datetime
                     ) -> tuple[IdempotencyRecord, func.HttpResponse | None]:
        record, created = await self._store.claim(wanted)
        if created:
            return record, None
        stale = record.status == "in_progress" and now - record.started_at > STALE_IN_PROGRESS
        if record.expires_at <= now or stale:
            return await self._store.replace(replace(wanted, etag=record.etag)), None
        if record.fingerprint != wanted.fingerprint:
            raise IdempotencyKeyReused(f"this {HEADER} was used with a different request")
        if record.status == "in_progress":
            raise Conflict(f"a request with this {HEADER} is still in progress", code="IdempotencyKeyInProgress")
        return record, _replay(record)

    async def _complete(self, record: IdempotencyRecord, response: func.HttpResponse) -> None:
        body = without_secrets((response.get_body() or b"").decode("utf-8", "replace"))
        if not 200 <= response.status_code < 300 or len(body) > MAX_STORED_BODY:
            await self._store.release(record)
            return
        headers = {k: v for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS}
        await self._store.replace(replace(record, status="completed", response_status=response.status_code,
                                          response_headers=headers, response_body=body))


def without_secrets(body: str) -> str:
    """The response body as it may be stored: the JSON object without the fields that are credentials."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or not any(name in document for name in SECRET_FIELDS):
        return body
    return json.dumps({k: v for k, v in document.items() if k not in SECRET_FIELDS})


def _replay(record: IdempotencyRecord) -> func.HttpResponse:
    headers = {**record.response_headers, REPLAY_HEADER: "true"}
    return func.HttpResponse(record.response_body, status_code=record.response_status, headers=headers,
                             mimetype="application/json")

"""Idempotency-Key for POST/PUT/DELETE: claim a record, replay a completed response, reject one in progress or a
reused key with another body, release the claim when the request fails.

A claim in progress is a lease: renewed while its request runs, taken over once it has not been renewed for `lease`
(its worker died, or storage was down when the request tried to release it). Storage failing while the key is released
or completed never changes the caller's answer: the request's own response or error is what the caller gets.

A stored response never keeps a redemption link (`inviteRedeemUrl`): it is a credential for the guest's account, and
the table keeps responses for 24 hours. A replay returns the record without it (re-invite for a new link)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import azure.functions as func

from lifecycle.errors import Conflict, IdempotencyKeyReused, InvalidRequest, LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import IdempotencyRecord, IdempotencyStore

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replay"
TTL = timedelta(hours=24)
IN_PROGRESS_LEASE = timedelta(seconds=30)  # renewed every third of it while the request runs
MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("location", "retry-after")
MAX_STORED_BODY = 30_000
SECRET_FIELDS = ("inviteRedeemUrl",)
log = get_logger("lifecycle.http.idempotency")


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
    def __init__(self, store: IdempotencyStore, clock: Callable[[], datetime],
                 lease: timedelta = IN_PROGRESS_LEASE) -> None:
        self._store = store
        self._clock = clock
        self.lease = lease

    @property
    def store(self) -> IdempotencyStore:
        """The keys' store (the sweep purges expired keys through it too)."""
        return self._store

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
        lease = _Lease(self._store, record, self._clock, self.lease)
        try:
            async with lease.renewed():
                response = await run()
        except BaseException:
            await self._release(lease.record)
            raise
        await self._complete(lease.record, response)
        return response

    async def _claim(self, wanted: IdempotencyRecord, now: datetime
                     ) -> tuple[IdempotencyRecord, func.HttpResponse | None]:
        record, created = await self._store.claim(wanted)
        if created:
            return record, None
        lapsed = record.status == "in_progress" and now - record.started_at > self.lease
        if record.expires_at <= now or lapsed:
            return await self._store.replace(replace(wanted, etag=record.etag)), None
        if record.fingerprint != wanted.fingerprint:
            raise IdempotencyKeyReused(f"this {HEADER} was used with a different request")
        if record.status == "in_progress":
            raise Conflict(f"a request with this {HEADER} is still in progress", code="IdempotencyKeyInProgress")
        return record, _replay(record)

    async def _complete(self, record: IdempotencyRecord, response: func.HttpResponse) -> None:
        body = without_secrets((response.get_body() or b"").decode("utf-8", "replace"))
        if not 200 <= response.status_code < 300 or len(body) > MAX_STORED_BODY:
            await self._release(record)
            return
        headers = {k: v for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS}
        try:
            await self._store.replace(replace(record, status="completed", response_status=response.status_code,
                                              response_headers=headers, response_body=body))
        except LifecycleError as exc:  # the work is done: the caller gets its answer, the lease lapses
            log.warning("idempotency key not completed; it lapses", header=HEADER, error=exc.message,
                        lease=str(self.lease))

    async def _release(self, record: IdempotencyRecord) -> None:
        """Free the key for a retry; when storage refuses, the lease lapses on its own and the caller's answer
        stands."""
        try:
            await self._store.release(record)
        except LifecycleError as exc:
            log.warning("idempotency key not released; it lapses", header=HEADER, error=exc.message,
                        lease=str(self.lease))


class _Lease:
    """Keeps a claim in progress alive while its request runs: `started_at` re-stamped every third of the lease."""

    def __init__(self, store: IdempotencyStore, record: IdempotencyRecord, clock: Callable[[], datetime],
                 lease: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._interval = lease.total_seconds() / 3
        self.record = record

    @asynccontextmanager
    async def renewed(self) -> AsyncIterator[None]:
        stop = asyncio.Event()
        renewing = asyncio.create_task(self._renew_until(stop))
        try:
            yield
        finally:
            stop.set()
            await renewing  # a renewal in flight finishes, so `record` holds the last ETag

    async def _renew_until(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self._interval)
                return
            except TimeoutError:
                pass
            try:
                self.record = await self._store.replace(replace(self.record, started_at=self._clock()))
            except LifecycleError as exc:
                log.warning("idempotency key lease not renewed", header=HEADER, error=exc.message)


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

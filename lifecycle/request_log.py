"""Per-operation collectors: Graph `request-id`s (for the audit trail) and the unit of work of one request or sweep,
which carries the events its record writes committed to the outbox.

The sweep opens a unit of work and sends what it carries when it ends. The HTTP pipeline opens a sending one: each
write's events go to the queue as soon as they are committed, in the background of the same request, and the
request ends when every send it started has finished, whether it succeeds or fails. Either way an event that was
committed with its record is delivered even when a later step of the same request fails (the outbox keeps it for
the sweep only when sending fails)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from lifecycle.logs import get_logger
from lifecycle.ports import Event

Send = Callable[[Sequence[Event]], Awaitable[object]]
"""Sends committed events (publish, then remove the outbox rows); what it cannot send stays in the outbox."""

log = get_logger("lifecycle")
_request_ids: ContextVar[list[str] | None] = ContextVar("graph_request_ids", default=None)
_unit_of_work: ContextVar[UnitOfWork | None] = ContextVar("committed_events", default=None)


class UnitOfWork:
    """The events committed inside one block, in commit order. With `send`, each commit's events are handed to it
    at once in a task of its own, one commit after another (a later commit's send starts when the earlier one has
    finished); `settle` waits for them. A send that raises is logged, and the later commits' events are left in the
    outbox (sent by the sweep), so that one guest's events are never published out of order."""

    def __init__(self, send: Send | None = None) -> None:
        self.events: list[Event] = []
        self._send = send
        self._sends: list[asyncio.Task[None]] = []
        self._failed = False
        self._settled = False

    def committed(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        if self._send is None or not events:
            return
        if self._settled:
            log.warning("events committed after their request ended stay in the outbox", count=len(events))
            return
        previous = self._sends[-1] if self._sends else None
        send = self._send_after(self._send, previous, list(events))
        self._sends.append(asyncio.get_running_loop().create_task(send))

    async def settle(self) -> None:
        """Wait until every send started has finished; cancelled while waiting, cancel them and wait for that."""
        self._settled = True
        if not self._sends:
            return
        try:
            await asyncio.wait(self._sends)
        except asyncio.CancelledError:
            for task in self._sends:
                task.cancel()
            await asyncio.wait(self._sends)
            raise

    async def _send_after(self, send: Send, previous: asyncio.Task[None] | None, events: list[Event]) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if self._failed:
            log.warning("committed events stay in the outbox after an earlier send failed", count=len(events))
            return
        try:
            await send(events)
        except Exception:
            self._failed = True
            log.exception("committed events stay in the outbox: their send failed", count=len(events))


@contextmanager
def _collect(var: ContextVar[list[Any] | None]) -> Iterator[list[Any]]:
    items: list[Any] = []
    token = var.set(items)
    try:
        yield items
    finally:
        var.reset(token)


def collect_request_ids() -> Any:
    return _collect(_request_ids)


def note_request_id(request_id: str | None) -> None:
    ids = _request_ids.get()
    if ids is not None and request_id and request_id not in ids:
        ids.append(request_id)


@contextmanager
def unit_of_work() -> Iterator[list[Event]]:
    """The events committed inside the block, in commit order; the caller sends them when the block ends."""
    work = UnitOfWork()
    token = _unit_of_work.set(work)
    try:
        yield work.events
    finally:
        _unit_of_work.reset(token)


@asynccontextmanager
async def sending_unit_of_work(send: Send) -> AsyncIterator[list[Event]]:
    """A unit of work that hands each commit's events to `send` as soon as they are committed, in the background
    of the block, in commit order; the block ends (also when it failed or was cancelled) only when every send it
    started has finished. Nothing a send raises reaches the block: it is logged, the events stay in the outbox."""
    work = UnitOfWork(send)
    token = _unit_of_work.set(work)
    try:
        yield work.events
    finally:
        _unit_of_work.reset(token)
        await work.settle()


def committed(events: Sequence[Event]) -> None:
    """Record events that a record write has just committed to the outbox (called by the record writers only)."""
    work = _unit_of_work.get()
    if work is not None:
        work.committed(events)

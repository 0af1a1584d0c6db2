"""Per-operation collectors: Graph `request-id`s (for the audit trail) and the unit of work of one request or sweep,
which carries the events its record writes committed to the outbox.

The HTTP pipeline and the sweep open a unit of work, and send what it carries when they end, whether they succeed or
fail: an event that was committed with its record is delivered at once even when a later step of the same request
fails (the outbox keeps it for the sweep only when sending fails)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from lifecycle.ports import Event

_request_ids: ContextVar[list[str] | None] = ContextVar("graph_request_ids", default=None)
_unit_of_work: ContextVar[list[Event] | None] = ContextVar("committed_events", default=None)


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
    with _collect(_unit_of_work) as committed:
        yield committed


def committed(events: Sequence[Event]) -> None:
    """Record events that a record write has just committed to the outbox (called by the record writers only)."""
    carried = _unit_of_work.get()
    if carried is not None:
        carried.extend(events)

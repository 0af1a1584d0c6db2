"""Per-operation collectors: Graph `request-id`s (for the audit trail) and the events an operation wrote."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_request_ids: ContextVar[list[str] | None] = ContextVar("graph_request_ids", default=None)
_events: ContextVar[list[Any] | None] = ContextVar("written_events", default=None)


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


def collect_events() -> Any:
    return _collect(_events)


def note_request_id(request_id: str | None) -> None:
    ids = _request_ids.get()
    if ids is not None and request_id and request_id not in ids:
        ids.append(request_id)


def note_events(events: list[Any]) -> None:
    collected = _events.get()
    if collected is not None:
        collected.extend(events)

"""Collects the Graph `request-id`s of the calls made while handling one operation (for the audit trail)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[list[str] | None] = ContextVar("graph_request_ids", default=None)


@contextmanager
def collect_request_ids() -> Iterator[list[str]]:
    ids: list[str] = []
    token = _current.set(ids)
    try:
        yield ids
    finally:
        _current.reset(token)


def note_request_id(request_id: str | None) -> None:
    ids = _current.get()
    if ids is not None and request_id and request_id not in ids:
        ids.append(request_id)

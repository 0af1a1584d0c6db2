"""Dispatching the outbox: events written with their state change are sent afterwards, and never lost."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from lifecycle.errors import LifecycleError
from lifecycle.ports import Event, EventPublisher, GuestStore
from lifecycle.services.context import log


class EventDispatcher:
    def __init__(self, store: GuestStore, publisher: EventPublisher) -> None:
        self._store = store
        self._publisher = publisher

    async def send(self, events: Sequence[Event]) -> int:
        """Send events, removing each from the outbox once the queue has it. Failures stay for the sweep."""
        sent = 0
        for event in events:
            try:
                await self._publisher.publish(event)
                await self._store.remove_event(event)
            except LifecycleError as exc:
                log.warning("event %s (%s) stays in the outbox: %s", event.id, event.type, exc.message)
                break
            sent += 1
        return sent

    async def drain(self, now: datetime, settle_seconds: float = 60.0, limit: int = 1000) -> int:
        """Send outbox events older than `settle_seconds` (younger ones are being sent by their request)."""
        cutoff = now - timedelta(seconds=settle_seconds)
        pending = [e for e in await self._store.pending_events(limit) if e.time is None or e.time <= cutoff]
        return await self.send(pending)

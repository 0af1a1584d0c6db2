"""Dispatching the outbox: events written with their state change are sent afterwards, and never lost."""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from lifecycle.errors import LifecycleError
from lifecycle.ports import Event, EventPublisher, GuestStore

PARALLEL_GUESTS = 16
log = logging.getLogger("lifecycle")


class EventDispatcher:
    def __init__(self, store: GuestStore, publisher: EventPublisher) -> None:
        self._store = store
        self._publisher = publisher

    async def send(self, events: Sequence[Event]) -> int:
        """Send events, removing each from the outbox once the queue has it; one guest's events in order, guests in
        parallel. What fails stays in the outbox for the sweep."""
        by_guest: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_guest[event.guest_id].append(event)
        slots = asyncio.Semaphore(PARALLEL_GUESTS)

        async def send_in_order(guest_events: list[Event]) -> int:
            async with slots:
                return await self._send_in_order(guest_events)

        return sum(await asyncio.gather(*(send_in_order(batch) for batch in by_guest.values())))

    async def _send_in_order(self, events: list[Event]) -> int:
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

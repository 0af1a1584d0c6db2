"""Dispatching the outbox: events written with their state change are sent afterwards, and never lost."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from lifecycle.errors import LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import Event, EventPublisher, GuestStore

PARALLEL_GUESTS = 16
log = get_logger("lifecycle")


class EventDispatcher:
    def __init__(self, store: GuestStore, publisher: EventPublisher) -> None:
        self._store = store
        self._publisher = publisher
        self._slots = asyncio.Semaphore(PARALLEL_GUESTS)

    async def send(self, events: Sequence[Event]) -> int:
        """Publish events, then remove what the queue has from the outbox in one go. What fails stays in the outbox
        for the sweep (sent again: consumers dedupe by id)."""
        published = await self.publish(events)
        await self.remove(published)
        return len(published)

    def sender(self) -> Callable[[Sequence[Event]], Awaitable[int]]:
        """A `send` for the commits of one unit of work, called one after another: a guest whose event could not
        be published has its events of the later calls left in the outbox too, behind it (sent by the sweep)."""
        held: set[str] = set()

        async def send(events: Sequence[Event]) -> int:
            published = await self.publish([event for event in events if event.guest_id not in held])
            sent = {event.id for event in published}
            held.update(event.guest_id for event in events if event.id not in sent)
            await self.remove(published)
            return len(published)

        return send

    async def publish(self, events: Sequence[Event]) -> list[Event]:
        """Put events on the queue, one guest's in order, guests in parallel; the ones the queue has (their outbox
        rows stay until `remove`). Raises nothing: an event that cannot be sent, and that guest's later ones, wait."""
        by_guest: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_guest[event.guest_id].append(event)

        async def publish_in_order(guest_events: list[Event]) -> list[Event]:
            async with self._slots:
                return await self._publish_in_order(guest_events)

        batches = await asyncio.gather(*(publish_in_order(batch) for batch in by_guest.values()))
        return [event for batch in batches for event in batch]

    async def remove(self, published: Sequence[Event]) -> None:
        """Remove published events from the outbox; if storage fails they stay, and are sent again later."""
        if not published:
            return
        try:
            await self._store.remove_events(published)
        except LifecycleError as exc:
            log.warning("sent events stay in the outbox (sent again later)", count=len(published), error=exc.message)

    async def _publish_in_order(self, events: list[Event]) -> list[Event]:
        published: list[Event] = []
        for event in events:
            try:
                await self._publisher.publish(event)
            except LifecycleError as exc:
                log.warning("event stays in the outbox", eventId=event.id, eventType=event.type, error=exc.message)
                break
            published.append(event)
        return published

    async def drain(self, now: datetime, settle_seconds: float = 60.0, limit: int = 1000) -> int:
        """Send outbox events older than `settle_seconds` (younger ones are being sent by their request)."""
        cutoff = now - timedelta(seconds=settle_seconds)
        pending = [e for e in await self._store.pending_events(limit) if e.time is None or e.time <= cutoff]
        return await self.send(pending)

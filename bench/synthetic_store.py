"""A guest store for a million guests that holds none of them: records made on demand, for `bench.scale`.

Azurite cannot serve a million records (its query engine filters and sorts the whole table for every page: see
docs/benchmarks.md), and the in-memory fake would hold them all in the sweep's own process, so the sweep's memory could
not be told apart from the store's. This store makes record `n` when it is read: the same Table row each time (a
template row with the guest's id, email and expiry), decoded by the Table adapter's codec as a row from storage is.
What the sweep writes is kept (the fake store's rules: ETags, index rows, outbox). Table Storage's own time is not in
it: `bench.scale` prints it beside, as the lower bound the partition targets imply.

Guest `n` has the id `guest_id(n)`; guests 0 to due-1 expired a day ago, the others expire in 180 days."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity

from bench.common import DAY, make_guest
from lifecycle.adapters.memory import InMemoryGuestStore
from lifecycle.adapters.tables import codec
from lifecycle.domain.model import Guest
from lifecycle.ports import Event, OnRecordPage, Page

NAMESPACE = 0x5CA1E << 100


def guest_id(n: int) -> str:
    return str(uuid.UUID(int=NAMESPACE | n))


def number_of(user_id: str) -> int | None:
    try:
        value = uuid.UUID(user_id).int
    except ValueError:
        return None
    return value & ((1 << 100) - 1) if value >> 100 == NAMESPACE >> 100 else None


def generated_guest(now: datetime, n: int, due: int) -> Guest:
    """Guest `n` as written when seeded (what `seed_users` mirrors in the emulator)."""
    guest = make_guest(now, due=n < due, number=n)
    return replace(guest, id=guest_id(n), email=f"bench-{n}@{guest.email.split('@')[1]}")


class SyntheticGuestStore(InMemoryGuestStore):
    def __init__(self, tracked: int, due: int, now: datetime) -> None:
        super().__init__()  # `self.guests` holds only what the sweep wrote
        self.tracked, self.due_count, self.now = tracked, due, now
        self._templates = {flag: codec.guest_to_entity(generated_guest(now, 0 if flag else tracked, due))
                           for flag in (True, False)}
        self._expiry = {True: now - DAY, False: now + 180 * DAY}

    def _row(self, n: int) -> Guest:
        is_due = n < self.due_count
        entity = TableEntity(self._templates[is_due])
        guest_key = guest_id(n)
        entity.update({"RowKey": codec.guest_key(guest_key), "Id": guest_key, "Email": f"bench-{n}@fabrikam.example",
                       "DisplayName": f"Bench {n}"})
        entity._metadata = {"etag": f'W/"generated-{n}"', "timestamp": None}
        return codec.entity_to_guest(entity)

    async def get(self, guest_id: str) -> Guest | None:
        if guest_id in self.guests:
            return self.guests[guest_id]
        n = number_of(guest_id)
        return self._row(n) if n is not None and n < self.tracked else None

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        current = await self.get(guest.id)
        if current is None or current.etag != guest.etag:
            return await super().save(guest, events)  # raises ConcurrencyConflict
        self.guests[guest.id] = current
        return await super().save(guest, events)

    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        for guest in guests:
            current = await self.get(guest.id)
            if current is not None and guest.id not in self.guests:
                self.guests[guest.id] = current
        return await super().save_all(guests)

    async def scan(self, on_page: OnRecordPage, *, page_size: int = 1000) -> int:
        for start in range(0, self.tracked, page_size):
            page = [self.guests.get(guest_id(n)) or self._row(n)
                    for n in range(start, min(start + page_size, self.tracked))]
            on_page(Page(page, None))
        return self.tracked

    async def count_tracked(self) -> int:
        return self.tracked

    def describe(self) -> dict[str, Any]:
        return {"tracked": self.tracked, "due": self.due_count, "written": len(self.guests)}

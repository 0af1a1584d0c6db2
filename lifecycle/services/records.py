"""The guest records as the services use them: a read that must find the guest, and ETag-guarded writes that carry
their outbox events and report them to the unit of work once committed."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from lifecycle.domain import events as kinds
from lifecycle.domain.events import group_events, guest_event, with_fallback
from lifecycle.domain.limits import check_growth
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import ConcurrencyConflict, NotFound
from lifecycle.ports import Event, GuestStore
from lifecycle.request_log import committed

Change = Callable[[Guest], Guest]


class GuestRecords:
    """Guest records on a `GuestStore`. `store` is the port itself, used directly for what needs no more than the
    port gives: queries, index scans, the email claims, the outbox. Every method may raise StorageUnavailable."""

    def __init__(self, store: GuestStore, clock: Callable[[], datetime], save_attempts: int = 5, *,
                 fallback_notify: str = "", grace_days: int = 30) -> None:
        self.store = store
        self._clock = clock
        self._save_attempts = save_attempts
        self._fallback = fallback_notify  # LIFECYCLE_FALLBACK_NOTIFY, in the events of guests without a sponsor
        self._grace_days = grace_days  # EXPIRY_GRACE_DAYS: when the delete follows a disable

    @property
    def fallback_notify(self) -> str:
        """LIFECYCLE_FALLBACK_NOTIFY: who is told about a guest without (enough) sponsors."""
        return self._fallback

    def _events(self, before: Guest, changed: Guest, event: str | None, extra: dict[str, Any]) -> list[Event]:
        """The events of a change: `event` (guest.disabled with its reason and the date the delete follows), the
        group events of the groups it added or removed, each with the fallback of a guest without a sponsor."""
        now = self._clock()
        if event == kinds.DISABLED:
            extra = {**kinds.disabled_data(changed, self._grace_days), **extra}
        found = ([guest_event(event, changed, now, **extra)] if event else []) + group_events(before, changed, now)
        return [with_fallback(e, self._fallback) for e in found]

    async def get(self, guest_id: str) -> Guest | None:
        """The record with its ETag, or None."""
        return await self.store.get(guest_id)

    async def load(self, guest_id: str) -> Guest:
        """The record with its ETag; raises NotFound (GuestNotFound) when no guest with the id is tracked."""
        guest = await self.store.get(guest_id)
        if guest is None:
            raise NotFound(f"no tracked guest with id '{guest_id}'", code="GuestNotFound")
        return guest

    async def update(self, guest: Guest, change: Change, event: str | None = None,
                     data: dict[str, Any] | None = None) -> Guest:
        """Apply an idempotent change, re-reading and re-applying it when another writer won. `event` (a type) is
        written to the outbox with the change, describing the changed record, and reported as committed. A change
        that changes nothing writes nothing. Raises ConcurrencyConflict when the record keeps changing for every
        attempt, NotFound when it vanished, whatever `change` raises (InvalidTransition), and LimitExceeded, before
        any write, for a change that would make the record hold more than it may (`domain.limits`). `data` is added
        to the event's; a change of the record's groups also writes guest.group-added / guest.group-removed."""
        for _ in range(self._save_attempts):
            changed = change(guest)
            if changed == guest:
                return guest
            check_growth(guest, changed)
            events = self._events(guest, changed, event, data or {})
            try:
                saved = await self.store.save(changed, events)
            except ConcurrencyConflict:
                guest = await self.load(guest.id)
                continue
            committed(events)
            return saved
        raise ConcurrencyConflict("the guest keeps changing; retry later")

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        """Insert a new record linked to its email claim, with its events, and report them as committed.
        ConcurrencyConflict when the id is tracked already or the caller no longer holds the email; LimitExceeded
        (nothing written) for a record over a limit."""
        check_growth(None, guest)
        events = [with_fallback(e, self._fallback) for e in events]
        created = await self.store.create(guest, claim, events)
        committed(events)
        return created

    async def save(self, guest: Guest) -> Guest:
        """Replace the record as given, once, guarded by its ETag (no retry: ConcurrencyConflict on a lost race)."""
        return await self.store.save(guest)

    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        """Replace several records in one transaction, each guarded by its ETag: all or none (no retry:
        ConcurrencyConflict when any lost a race; ValueError when they do not fit one transaction)."""
        return await self.store.save_all(guests)

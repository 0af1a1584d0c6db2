"""A sweep with nothing due writes nothing: every record read, none written, no audit entry, no event; the only row it
writes is its own run. And what it holds: only the records the plan or the report names (bounded memory)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from lifecycle.adapters.memory import (
    InMemoryAuditLog,
    InMemoryDirectory,
    InMemoryEventPublisher,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore
from lifecycle.config import Settings
from lifecycle.domain.model import Guest, GuestState, InvitationState
from lifecycle.domain.planning import SignIn
from lifecycle.ports import Event
from lifecycle.wiring import build_services
from tests.support import SetClock

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GUESTS = 300


class CountingStore(InMemoryGuestStore):
    """The fake store, counting every write it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: Counter[str] = Counter()

    async def create(self, guest: Guest, claim, events: Sequence[Event] = ()) -> Guest:  # type: ignore[override]
        self.writes["create"] += 1
        return await super().create(guest, claim, events)

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        self.writes["save"] += 1
        return await super().save(guest, events)

    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        self.writes["save_all"] += 1
        return await super().save_all(guests)


async def tenant(due: int = 0) -> tuple[CountingStore, InMemoryDirectory]:
    """GUESTS redeemed, enabled guests that signed in last week; the first `due` expired yesterday."""
    store, directory = CountingStore(), InMemoryDirectory()
    for n in range(GUESTS):
        guest_id = f"00000000-0000-4000-8000-{n:012d}"
        created = NOW - timedelta(days=200)
        await store.create(Guest(
            id=guest_id, email=f"g{n}@fabrikam.com", state=GuestState.ACTIVE,
            invitation_state=InvitationState.ACCEPTED, invited_at=created, created_at=created, updated_at=created,
            expires_at=NOW - timedelta(days=1) if n < due else NOW + timedelta(days=180)), None)
        directory.users[guest_id] = {"id": guest_id, "userType": "Guest", "mail": f"g{n}@fabrikam.com",
                                     "externalUserState": "Accepted", "accountEnabled": True,
                                     "userPrincipalName": f"g{n}_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                                     "signInActivity": SignIn(last_successful=NOW - timedelta(days=7))}
    store.writes.clear()
    return store, directory


def services(store: InMemoryGuestStore, directory: InMemoryDirectory, audit: InMemoryAuditLog,
             publisher: InMemoryEventPublisher, runs: InMemoryRunStore):
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9", "INACTIVITY_DAYS": "90",
                                  "EXPIRY_GUARD_PERCENT": "100"})
    return build_services(settings, store=store, directory=directory, audit=audit, clock=SetClock(NOW),
                          publisher=publisher, idempotency_store=InMemoryIdempotencyStore(), runs=runs)


async def test_a_sweep_with_nothing_due_reads_every_record_and_writes_none():
    store, directory = await tenant()
    audit, publisher, runs = InMemoryAuditLog(), InMemoryEventPublisher(), InMemoryRunStore()
    report = await services(store, directory, audit, publisher, runs).expiry.run()
    assert report.refreshed == {"checked": GUESTS} and report.tracked == GUESTS and not report.failures
    assert report.planned == {} and report.done == {}
    assert store.writes == Counter() and publisher.published == [] and audit.entries == []
    assert len(runs.runs_by_id) == 1  # its own run, and nothing else


async def test_the_survey_keeps_only_the_guests_with_something_due():
    store, directory = await tenant(due=3)
    svc = services(store, directory, InMemoryAuditLog(), InMemoryEventPublisher(), InMemoryRunStore())
    plan, survey = await svc.expiry.plan()
    assert sorted(g.id for g in survey.guests) == sorted(store.guests)[:3]
    assert survey.tracked == GUESTS and survey.checked == GUESTS and len(plan.actions) == 3
    assert set(survey.sign_ins or {}) <= {g.id for g in survey.guests}  # sign-ins kept only for those

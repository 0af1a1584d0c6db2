"""GuestRecords (load, ETag retry, outbox) and Audit (one entry per mutation, never failing it) on in-memory fakes."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lifecycle.adapters.memory import InMemoryAuditLog, InMemoryGuestStore
from lifecycle.domain import events
from lifecycle.domain.model import Guest
from lifecycle.errors import ConcurrencyConflict, NotFound, StorageUnavailable
from lifecycle.ports import AuditEntry
from lifecycle.request_log import note_request_id, unit_of_work
from lifecycle.services.audit import Audit
from lifecycle.services.records import GuestRecords
from tests.support import logged

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def renamed(name: str):
    return lambda g: g if g.display_name == name else replace(g, display_name=name, updated_at=NOW)


async def stored(store: InMemoryGuestStore) -> Guest:
    return await store.create(Guest(id="g1", email="a@fabrikam.com", created_at=NOW, updated_at=NOW), None)


async def test_load_of_an_unknown_id_is_guest_not_found():
    with pytest.raises(NotFound) as raised:
        await GuestRecords(InMemoryGuestStore(), lambda: NOW).load("nobody")
    assert raised.value.code == "GuestNotFound"


async def test_update_after_a_lost_race_reapplies_the_change_on_the_winner_and_commits_its_event():
    store = InMemoryGuestStore()
    records = GuestRecords(store, lambda: NOW)
    stale = await stored(store)
    await store.save(replace(stale, sponsors=("s1",)))  # another writer wins first
    with unit_of_work() as written:
        saved = await records.update(stale, renamed("Ann"), events.EXTENDED)
    assert (saved.display_name, saved.sponsors) == ("Ann", ("s1",))
    assert [e.type for e in store.outbox] == ["guest.extended"] and written == store.outbox


async def test_a_change_that_changes_nothing_writes_nothing():
    store = InMemoryGuestStore()
    guest = await stored(store)
    with unit_of_work() as written:
        assert await GuestRecords(store, lambda: NOW).update(guest, lambda g: g, events.EXTENDED) == guest
    assert store.outbox == [] and written == [] and (await store.get("g1")).etag == guest.etag


async def test_update_gives_up_with_a_conflict_when_every_attempt_loses():
    class AlwaysLoses(InMemoryGuestStore):
        async def save(self, guest, events=()):
            raise ConcurrencyConflict("lost")

    store = AlwaysLoses()
    guest = await stored(store)
    with pytest.raises(ConcurrencyConflict, match="keeps changing"):
        await GuestRecords(store, lambda: NOW, save_attempts=3).update(guest, renamed("Ann"))


async def test_create_reports_its_events_as_committed():
    store = InMemoryGuestStore()
    event = events.guest_event(events.ADOPTED, Guest(id="g2", email="b@fabrikam.com"), NOW)
    with unit_of_work() as written:
        await GuestRecords(store, lambda: NOW).create(Guest(id="g2", email="b@fabrikam.com"), None, [event])
    assert written == [event] == store.outbox


async def test_audited_records_the_outcome_the_target_and_the_graph_request_ids():
    log = InMemoryAuditLog()
    async with Audit(log, lambda: NOW).audited("ops", "guest.invite", "a@fabrikam.com", groups=["g"]) as notes:
        note_request_id("req-1")
        notes.update(target="g1", outcome="unchanged")
    [entry] = await log.entries_for("g1")
    assert (entry.actor, entry.action, entry.outcome, entry.at) == ("ops", "guest.invite", "unchanged", NOW)
    assert entry.graph_request_ids == ("req-1",) and entry.details == {"groups": ["g"], "target": "g1"}


async def test_a_failed_operation_is_audited_as_failed_with_its_code_and_raised():
    log = InMemoryAuditLog()
    with pytest.raises(NotFound):
        async with Audit(log, lambda: NOW).audited("ops", "guest.disable", "g1"):
            raise NotFound("gone", code="GuestNotFound")
    [entry] = await log.entries_for("g1")
    assert entry.outcome == "failed: GuestNotFound" and entry.details == {"error": "gone"}


async def test_an_audit_write_failure_is_logged_and_never_fails_the_operation(caplog):
    class Down(InMemoryAuditLog):
        async def record(self, entry: AuditEntry) -> None:
            raise StorageUnavailable("audit table down")

    done = []
    with caplog.at_level(logging.ERROR, logger="lifecycle"):
        async with Audit(Down(), lambda: NOW).audited("ops", "group.add", "g1"):
            done.append(True)
    assert done == [True]
    assert {"event": "audit write failed", "actor": "ops", "action": "group.add", "target": "g1",
            "outcome": "succeeded"}.items() <= logged(caplog.records)[0].items()

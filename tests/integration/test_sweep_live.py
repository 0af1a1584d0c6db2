"""The expiry sweep on Azurite and the Graph emulator, with a controllable clock."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import GuestState
from lifecycle.wiring import build_services
from tests.builders import invited_id, unlinked_claim
from tests.support import GROUP_A, SetClock

pytestmark = pytest.mark.azurite
DAY = timedelta(days=1)


class Crash(BaseException):
    """Stands for the process dying (not an error the sweep could catch and report)."""


class CrashingStore(TableGuestStore):
    """Dies right after Graph was written, before the record says so, for one guest."""

    def __init__(self, tables: LifecycleTables, victim: str) -> None:
        super().__init__(tables)
        self.victim = victim

    async def save(self, guest, events=()):
        if guest.id == self.victim and guest.state is GuestState.DISABLED:
            raise Crash()
        return await super().save(guest, events)


@pytest.fixture
async def world(live_env, emulator):
    clock = SetClock()
    opened = []

    def services(store_factory=None, tuning=Tuning(), **env):
        settings = Settings.from_env({**live_env, **env})
        store = None
        if store_factory:
            tables = LifecycleTables(build_service_client(settings, None), settings)
            store = store_factory(tables)
            opened.append(tables)
        built = build_services(settings, clock=clock, tuning=tuning, store=store)
        opened.append(built)
        return built

    yield clock, services
    for item in opened:
        await item.close()


async def test_sweep_over_a_mix_of_guests(world, emulator):
    clock, make = world
    svc = make()
    due = await invited_id(svc, "due@fabrikam.com", expiresInDays=1, groups=[GROUP_A])
    later = await invited_id(svc, "later@fabrikam.com", expiresInDays=300, groups=[])
    member = await invited_id(svc, "member@fabrikam.com", expiresInDays=1, groups=[])
    gone = await invited_id(svc, "gone@fabrikam.com", expiresInDays=1, groups=[])
    for guest_id in (due, later, member, gone):
        emulator.redeem(guest_id)
    emulator.update_user(member, userType="Member")
    emulator.remove_user(gone)
    clock.now += 2 * DAY
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and not report.failures, report
    assert report.refreshed == {"checked": 4, "gone": 1, "redeemed": 2}  # one pass refreshes every record
    assert [s["guestId"] for s in report.skipped] == [member]
    store = svc.records.store
    assert (await store.get(due)).state is GuestState.DISABLED and emulator.user(due)["accountEnabled"] is False
    assert (await store.get(later)).state is GuestState.ACTIVE  # not due, still refreshed
    assert (await store.get(member)).state is GuestState.INVITED and emulator.user(member)["accountEnabled"]
    assert (await store.get(gone)).state is GuestState.DELETED
    clock.now += 31 * DAY
    report = await svc.expiry.run()
    assert report.done == {"delete": 1, "purge": 1} and emulator.user(due)["deleted"] is True
    assert (await store.get(gone)).state is GuestState.PURGED
    assert (await store.get(later)).state is GuestState.ACTIVE


async def test_crash_between_graph_write_and_record_then_next_sweep_finishes(world, emulator):
    clock, make = world
    first = make()
    ids = [await invited_id(first, f"c{n}@fabrikam.com", expiresInDays=1 + n, groups=[]) for n in range(3)]
    clock.now += 5 * DAY
    crashing = make(lambda tables: CrashingStore(tables, ids[1]), GRAPH_MAX_CONCURRENCY="1")
    with pytest.raises(BaseExceptionGroup) as crashed:
        await crashing.expiry.run()
    assert crashed.group_contains(Crash)
    stuck = await first.records.store.get(ids[1])
    assert stuck.pending_action == "disable:expiry" and emulator.user(ids[1])["accountEnabled"] is False
    assert (await first.records.store.get(ids[2])).state is GuestState.INVITED
    patches_before = emulator.count("PATCH /users/{id}")
    resumed = make(tuning=Tuning(action_stale_seconds=0))
    report = await resumed.expiry.run()
    assert report.done == {"disable": 2} and not report.failures, report
    for guest_id in ids:
        record = await first.records.store.get(guest_id)
        assert record.state is GuestState.DISABLED and record.pending_action == ""
    assert emulator.count("PATCH /users/{id}") == patches_before + 2  # the victim again, and the one never reached
    audit = await first.audit.entries_for(ids[0])
    assert [e.outcome for e in audit if e.action == "guest.disable"] == ["succeeded"]


async def test_two_sweeps_at_once_act_once_per_guest(world, emulator):
    clock, make = world
    setup = make()
    ids = [await invited_id(setup, f"t{n}@fabrikam.com", expiresInDays=1, groups=[]) for n in range(6)]
    clock.now += 2 * DAY
    one, two = make(EXPIRY_GUARD_PERCENT="100"), make(EXPIRY_GUARD_PERCENT="100")
    reports = await asyncio.gather(one.expiry.run(), two.expiry.run())
    assert sum(r.done.get("disable", 0) for r in reports) == 6
    assert not any(r.failures for r in reports)
    assert emulator.count("PATCH /users/{id}") == 6 and emulator.count("POST /users/{id}/revokeSignInSessions") == 6
    for guest_id in ids:
        assert (await setup.records.store.get(guest_id)).state is GuestState.DISABLED


async def test_sweep_under_random_throttling_completes(world, emulator):
    clock, make = world
    setup = make()
    ids = [await invited_id(setup, f"f{n}@fabrikam.com", expiresInDays=1, groups=[]) for n in range(8)]
    clock.now += 2 * DAY
    emulator.configure(faultRate=0.2, faultStatuses=[429, 503], faultRetryAfter=1, seed=11)
    report = await make(EXPIRY_GUARD_PERCENT="100").expiry.run()
    assert report.done == {"disable": 8} and not report.failures, report
    assert emulator.calls()["faults"] > 0
    for guest_id in ids:
        assert emulator.user(guest_id)["accountEnabled"] is False


async def test_stale_inviting_claim_is_resolved_by_the_sweep(world, emulator):
    clock, make = world
    svc = make()
    user = emulator.seed_user(displayName="Half", mail="half@fabrikam.com", userType="Guest",
                              externalUserState="PendingAcceptance")
    claim = unlinked_claim("half@fabrikam.com", claimed_at=clock.now, groups=[GROUP_A])
    await svc.records.store.claim_email(claim)
    orphan = unlinked_claim("never@fabrikam.com", claimed_at=clock.now)
    await svc.records.store.claim_email(orphan)
    clock.now += timedelta(minutes=5)
    report = await svc.expiry.run()
    assert report.repaired.get("claim adopted") == 1 and report.repaired.get("claim released") == 1
    record = await svc.records.store.get(user["id"])
    assert record is not None and record.groups == (GROUP_A,) and emulator.group_members(GROUP_A) == [user["id"]]
    assert await svc.records.store.get_claim("never@fabrikam.com") is None
    assert emulator.count("POST /invitations") == 0

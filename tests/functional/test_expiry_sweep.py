"""The expiry sweep on in-memory fakes, with a controllable clock."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.memory import (
    InMemoryAuditLog,
    InMemoryDirectory,
    InMemoryEventPublisher,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore
from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import GuestState
from lifecycle.domain.planning import SignIn
from lifecycle.wiring import build_services
from tests.builders import invite_command, invited_id
from tests.support import SetClock

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def world():
    clock = SetClock(START)
    store, directory, audit = InMemoryGuestStore(), InMemoryDirectory(), InMemoryAuditLog()
    publisher, runs = InMemoryEventPublisher(), InMemoryRunStore()

    def services(**env: str):
        settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9", **env})
        return build_services(settings, store=store, directory=directory, audit=audit, clock=clock,
                              publisher=publisher, idempotency_store=InMemoryIdempotencyStore(), runs=runs,
                              tuning=Tuning(lag_retry_seconds=0.1, lag_first_delay=0.05, action_stale_seconds=60))

    services.publisher = publisher
    services.runs = runs
    return clock, store, directory, services


async def test_sweep_disables_then_deletes_then_purges(world):
    clock, store, directory, services = world
    svc = services()
    guest_id = await invited_id(svc, "a@fabrikam.com", expiresInDays=10)
    directory.users[guest_id]["externalUserState"] = "Accepted"
    clock.now = START + timedelta(days=5)
    report = await svc.expiry.run()
    assert report.done == {"notify": 1} and report.refreshed == {"checked": 1, "redeemed": 1}
    assert store.guests[guest_id].state is GuestState.ACTIVE  # every redemption, not only the guests due
    assert [e.type for e in services.publisher.published].count("guest.expiring") == 1
    assert [e.type for e in services.publisher.published].count("guest.redeemed") == 1
    assert (await svc.expiry.run()).done == {}  # the notice goes out once
    clock.now = START + timedelta(days=10)
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and report.refreshed == {"checked": 1}
    assert store.guests[guest_id].state is GuestState.DISABLED and directory.users[guest_id]["accountEnabled"] is False
    clock.now = START + timedelta(days=40)
    assert (await svc.expiry.run()).done == {"delete": 1}
    assert guest_id in directory.deleted
    clock.now = START + timedelta(days=70)
    assert (await svc.expiry.run()).done == {"purge": 1}
    assert store.guests[guest_id].state is GuestState.PURGED


async def test_dry_run_changes_nothing(world):
    clock, store, directory, services = world
    svc = services(EXPIRY_DRY_RUN="true")
    guest_id = await invited_id(svc, "b@fabrikam.com", expiresInDays=1)
    writes, before = len(directory.writes), store.guests[guest_id]
    clock.now = START + timedelta(days=2)
    report = await svc.expiry.run()
    assert report.dry_run and report.planned == {"disable": 1} and report.done == {}
    assert store.guests[guest_id] == before and len(directory.writes) == writes


async def test_guard_refuses_mass_disable(world):
    clock, store, directory, services = world
    svc = services(EXPIRY_GUARD_MIN="2", EXPIRY_GUARD_PERCENT="50")
    ids = [await invited_id(svc, f"m{n}@fabrikam.com", expiresInDays=1) for n in range(4)]
    await invited_id(svc, "keep@fabrikam.com", expiresInDays=300)
    clock.now = START + timedelta(days=2)
    report = await svc.expiry.run()
    assert report.guard_tripped and report.done == {} and report.failed
    assert all(store.guests[i].state is GuestState.INVITED for i in ids)
    report = await svc.expiry.run(override_guard=True)
    assert report.done == {"disable": 4}


async def test_cap_leaves_the_rest_for_the_next_run(world):
    clock, store, directory, services = world
    svc = services(EXPIRY_MAX_ACTIONS_PER_RUN="2", EXPIRY_GUARD_PERCENT="100")
    for n in range(3):
        await invited_id(svc, f"c{n}@fabrikam.com", expiresInDays=1 + n)
    clock.now = START + timedelta(days=5)
    first = await svc.expiry.run()
    assert first.done == {"disable": 2} and first.deferred == 1
    second = await svc.expiry.run()
    assert second.done == {"disable": 1} and second.deferred == 0


async def test_guest_gone_from_graph_is_marked_deleted(world):
    clock, store, directory, services = world
    svc = services()
    guest_id = await invited_id(svc, "gone@fabrikam.com", expiresInDays=1)
    del directory.users[guest_id]
    clock.now = START + timedelta(days=2)
    report = await svc.expiry.run()
    assert report.refreshed.get("gone") == 1 and not report.failures
    assert store.guests[guest_id].state is GuestState.DELETED


async def test_member_is_never_touched(world):
    clock, store, directory, services = world
    svc = services()
    guest_id = await invited_id(svc, "member@fabrikam.com", expiresInDays=1)
    directory.users[guest_id]["userType"] = "Member"
    clock.now = START + timedelta(days=2)
    writes = len(directory.writes)
    report = await svc.expiry.run()
    assert report.skipped and report.skipped[0]["reason"] == "not a guest in the directory"
    assert len(directory.writes) == writes and store.guests[guest_id].state is GuestState.INVITED


async def test_unredeemed_invitation_is_cleaned_up(world):
    clock, store, directory, services = world
    svc = services(INVITE_REDEEM_DAYS="7")
    guest_id = await invited_id(svc, "never@fabrikam.com", expiresInDays=300)
    clock.now = START + timedelta(days=8)
    report = await svc.expiry.run()
    assert report.done == {"delete": 1} and store.guests[guest_id].state is GuestState.DELETED


async def test_repair_finishes_pending_groups(world):
    clock, store, directory, services = world
    group = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"
    svc = services(MANAGED_GROUP_IDS=group)
    directory.add_group(group)
    directory.unreplicated.add(group)
    outcome = await svc.invitations.invite(invite_command(svc, "p@fabrikam.com", groups=[group]), "test")
    assert outcome.guest.pending_groups == (group,)  # Graph does not show the group yet
    directory.unreplicated.clear()
    report = await svc.expiry.run()
    assert report.repaired == {"groups finished": 1, "events sent": 1}  # guest.group-added
    assert store.guests[outcome.guest.id].groups == (group,) and directory.groups[group] == {outcome.guest.id}


async def test_timer_function_runs_one_sweep(fakes):
    from datetime import timedelta as _timedelta

    from azure.functions.timer import TimerRequest

    import function_app
    from lifecycle.registry import indexed_functions

    timer = next(f for f in indexed_functions(function_app.app) if f.get_function_name() == "expire_guests")
    expires_at = (datetime.now(UTC) + _timedelta(seconds=2)).isoformat()
    command = invite_command(fakes.services, "timer@fabrikam.com", expiresAt=expires_at)
    outcome = await fakes.services.invitations.invite(command, "test")
    fakes.clock.offset = _timedelta(days=1)
    await timer.get_user_function()(TimerRequest(past_due=False))
    assert fakes.store.guests[outcome.guest.id].state is GuestState.DISABLED
    assert fakes.directory.users[outcome.guest.id]["accountEnabled"] is False


# --- the directory pass, inactivity, exclusions ---------------------------------------------------
EXCLUDED = "6f1c1ef7-2b1e-4a3c-9d51-0000000000e1"
NESTED = "6f1c1ef7-2b1e-4a3c-9d51-0000000000e2"


async def test_one_directory_pass_refreshes_every_record(world):
    clock, store, directory, services = world
    svc = services()
    ids = [await invited_id(svc, f"r{n}@fabrikam.com", expiresInDays=300) for n in range(5)]
    for guest_id in ids[:3]:
        directory.users[guest_id]["externalUserState"] = "Accepted"
    directory.users[ids[3]]["accountEnabled"] = False
    report = await svc.expiry.run()
    assert report.refreshed == {"checked": 5, "redeemed": 3, "disabled outside the app": 1}
    assert report.directory == {"guests": 5, "requests": 1, "requestsPerThousandGuests": 200.0, "ranges": 1}
    assert [store.guests[i].state for i in ids] == [GuestState.ACTIVE] * 3 + [GuestState.DISABLED, GuestState.INVITED]
    assert store.guests[ids[3]].disabled_reason.value == "manual"
    published = [e.type for e in services.publisher.published]
    assert published.count("guest.redeemed") == 3 and published.count("guest.disabled") == 1
    assert directory.list_requests == 1 and (await svc.expiry.run()).refreshed == {"checked": 5}
    audit = await svc.audit.entries_for(ids[3])
    assert [(e.action, e.details.get("found")) for e in audit if e.actor == "expiry-sweep"] == [
        ("guest.refresh", "disabled outside the app")]


async def test_inactive_guest_is_disabled_then_deleted_and_extend_restarts_the_window(world):
    clock, store, directory, services = world
    svc = services(INACTIVITY_DAYS="30", EXPIRY_GRACE_DAYS="10", INVITE_REDEEM_DAYS="0")
    quiet = await invited_id(svc, "quiet@fabrikam.com", expiresInDays=300)
    busy = await invited_id(svc, "busy@fabrikam.com", expiresInDays=300)
    directory.users[quiet]["signInActivity"] = SignIn(last_successful=START)
    clock.now = START + timedelta(days=30)
    directory.users[busy]["signInActivity"] = SignIn(last_non_interactive=clock.now)
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and report.inactivity.startswith("30 days"), report
    assert store.guests[quiet].disabled_reason.value == "inactivity" and store.guests[busy].is_live
    await svc.operations.run(svc.operations.extending(clock.now + timedelta(days=200)), quiet, "test")
    assert store.guests[quiet].is_live and store.guests[quiet].activity_baseline == clock.now
    clock.now += timedelta(days=29)
    assert (await svc.expiry.run()).done == {}  # a new window since the extend
    clock.now += timedelta(days=1)
    directory.users[busy]["signInActivity"] = SignIn(last_successful=clock.now - timedelta(days=1))
    assert (await svc.expiry.run()).done == {"disable": 1} and store.guests[busy].is_live
    clock.now += timedelta(days=10)
    assert (await svc.expiry.run()).done == {"delete": 1} and quiet in directory.deleted


async def test_without_a_licence_nothing_is_decided_on_inactivity(world):
    clock, store, directory, services = world
    svc = services(INACTIVITY_DAYS="30", INVITE_REDEEM_DAYS="0")
    guest_id = await invited_id(svc, "nolicence@fabrikam.com", expiresInDays=900)
    directory.premium = False
    clock.now = START + timedelta(days=400)
    report = await svc.expiry.run()
    assert report.done == {} and store.guests[guest_id].is_live
    assert "unknown" in report.inactivity and "NonPremium" in report.inactivity
    directory.premium = True  # licensed, but every value returned empty: still unknown, never "never signed in"
    directory.users[guest_id]["signInActivity"] = SignIn()
    report = await svc.expiry.run()
    assert report.done == {} and "no sign-in date for any guest" in report.inactivity


async def test_a_guest_graph_returns_without_sign_in_activity_never_signed_in_and_is_disabled(world):
    # user-list.md / signinactivity.md: signInActivity is left out for a user who never signed in; a pass that
    # selected it and succeeded counts such a guest's window from its invitation.
    clock, store, directory, services = world
    svc = services(INACTIVITY_DAYS="30", INVITE_REDEEM_DAYS="0")
    guest_id = await invited_id(svc, "never@fabrikam.com", expiresInDays=900)
    directory.users[guest_id].pop("signInActivity", None)
    clock.now = START + timedelta(days=29)
    assert (await svc.expiry.run()).done == {}
    clock.now = START + timedelta(days=31)
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and store.guests[guest_id].disabled_reason == "inactivity"


async def test_nested_exclusion_is_skipped_with_its_group(world):
    clock, store, directory, services = world
    svc = services(EXPIRY_EXCLUDED_GROUP_IDS=EXCLUDED)
    kept = await invited_id(svc, "partner@fabrikam.com", expiresInDays=1)
    other = await invited_id(svc, "other@fabrikam.com", expiresInDays=1)
    directory.add_group(EXCLUDED)
    directory.add_group(NESTED)
    directory.groups[EXCLUDED].add(NESTED)
    directory.groups[NESTED].add(kept)
    clock.now = START + timedelta(days=2)
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and store.guests[kept].is_live and not store.guests[other].is_live
    assert report.excluded == [{"guestId": kept, "group": EXCLUDED, "action": "disable", "reason": "expired"}]
    assert f"skipped {kept}: disable (expired) excluded by group {EXCLUDED}" in report.to_text()


async def test_plan_is_what_the_sweep_then_does_and_writes_nothing(world):
    clock, store, directory, services = world
    svc = services(INACTIVITY_DAYS="30", INVITE_REDEEM_DAYS="0")
    expired = await invited_id(svc, "expired@fabrikam.com", expiresInDays=1)
    inactive = await invited_id(svc, "inactive@fabrikam.com", expiresInDays=300)
    fine = await invited_id(svc, "fine@fabrikam.com", expiresInDays=300)
    directory.users[inactive]["signInActivity"] = SignIn(last_successful=START)
    directory.users[fine]["signInActivity"] = SignIn(last_successful=START + timedelta(days=30))
    directory.users[expired]["externalUserState"] = "Accepted"
    clock.now = START + timedelta(days=31)
    before, writes, outbox = dict(store.guests), len(directory.writes), len(store.outbox)
    plan, _ = await svc.expiry.plan()
    assert store.guests == before and len(directory.writes) == writes and len(store.outbox) == outbox
    planned = sorted((a.guest_id, a.kind.value, a.reason.value) for a in plan.actions)
    assert planned == sorted([(expired, "disable", "expired"), (inactive, "disable", "inactive")])
    report = await svc.expiry.run()
    assert report.done == {"disable": 2}
    assert store.guests[expired].disabled_reason.value == "expiry"
    assert store.guests[inactive].disabled_reason.value == "inactivity"


class CountingStore(InMemoryGuestStore):
    """Counts single saves and batched saves; `before_batch` runs just before a batch is written."""

    def __init__(self) -> None:
        super().__init__()
        self.saves, self.batches = 0, []
        self.before_batch = None

    async def save(self, guest, events=()):
        self.saves += 1
        return await super().save(guest, events)

    async def save_all(self, guests):
        if self.before_batch is not None:
            await self.before_batch()
        self.batches.append(len(guests))
        return await super().save_all(guests)


async def test_the_intents_of_due_guests_are_written_ahead_in_one_transaction_each_batch():
    clock, store = SetClock(START), CountingStore()
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9", "GRAPH_MAX_CONCURRENCY": "2"})
    svc = build_services(settings, store=store, directory=InMemoryDirectory(), audit=InMemoryAuditLog(), clock=clock,
                         publisher=InMemoryEventPublisher(), idempotency_store=InMemoryIdempotencyStore(),
                         runs=InMemoryRunStore())
    ids = [await invited_id(svc, f"w{n}@fabrikam.com", expiresInDays=1) for n in range(6)]
    clock.now += timedelta(days=2)
    store.saves = 0
    report = await svc.expiry.run()
    assert report.done == {"disable": 6} and not report.failures and not report.skipped, report
    assert store.batches == [4, 2]  # 4 guests under way at GRAPH_MAX_CONCURRENCY 2
    assert store.saves == 6  # one outcome per guest; no intent written on its own
    records = [await store.get(i) for i in ids]
    assert all(r.state is GuestState.DISABLED and not r.pending_action for r in records)


async def test_a_guest_changed_after_the_survey_fails_its_batch_and_is_skipped_not_disabled():
    clock, store = SetClock(START), CountingStore()
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9", "GRAPH_MAX_CONCURRENCY": "2"})
    directory = InMemoryDirectory()
    svc = build_services(settings, store=store, directory=directory, audit=InMemoryAuditLog(), clock=clock,
                         publisher=InMemoryEventPublisher(), idempotency_store=InMemoryIdempotencyStore(),
                         runs=InMemoryRunStore())
    ids = [await invited_id(svc, f"x{n}@fabrikam.com", expiresInDays=1) for n in range(3)]
    clock.now += timedelta(days=2)

    async def extended_meanwhile() -> None:
        store.before_batch = None
        current = await store.get(ids[1])
        await store.save(current.extend(clock.now, clock.now + timedelta(days=90)))

    store.before_batch = extended_meanwhile
    report = await svc.expiry.run()
    assert report.done == {"disable": 2}, report
    assert [s["guestId"] for s in report.skipped] == [ids[1]]
    assert (await store.get(ids[1])).state is GuestState.INVITED and not (await store.get(ids[1])).pending_action
    assert directory.users[ids[1]]["accountEnabled"] is not False
    assert [(await store.get(i)).state for i in (ids[0], ids[2])] == [GuestState.DISABLED] * 2


async def test_many_small_sweeps_in_a_day_cannot_disable_what_one_sweep_may_not(world):
    # 15 guests, 3 due every two hours: each sweep alone is under the guard's minimum (10), but within 24 hours the
    # fourth would make 12 of 15 (over 20%): the guard counts what was enforced in its window and trips.
    clock, store, directory, services = world
    svc = services()
    for n in range(15):
        guest = await store.get(await invited_id(svc, f"w{n}@fabrikam.com", expiresInDays=300))
        await store.save(replace(guest, expires_at=START + timedelta(hours=1 + 2 * (n // 3))))
    done = []
    for run in range(4):
        clock.now = START + timedelta(hours=2 + 2 * run)
        report = await svc.expiry.run()
        done.append(report.done.get("disable", 0))
    assert done == [3, 3, 3, 0] and report.guard_tripped
    assert "9 enforced in the last 24 hours" in report.guard_message
    assert sum(1 for g in store.guests.values() if g.state is GuestState.DISABLED) == 9
    clock.now = START + timedelta(hours=31)  # the window (24 hours) has moved past the three sweeps' disables
    assert (await svc.expiry.run()).done.get("disable") == 6

"""Adoption of a tenant's existing guests, then the sweep over them, on Azurite and the Graph emulator."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.graph.ranges import FIRST_CHARACTERS, SINGLE_RANGE_PAGES
from lifecycle.domain.model import GuestState
from lifecycle.errors import Conflict, Forbidden
from lifecycle.ports import GuestQuery
from lifecycle.services.sweep import describe_plan
from lifecycle.wiring import build_services
from tests.support import SetClock

pytestmark = pytest.mark.azurite
GUESTS = 2000


@pytest.fixture
async def world(live_env):
    clock, opened = SetClock(), []

    def make(**env: str):
        from lifecycle.config import Settings

        services = build_services(Settings.from_env({**live_env, **env}), clock=clock)
        opened.append(services)
        return services

    yield clock, make
    for services in opened:
        await services.close()


async def tracked(services) -> int:
    return await services.records.store.count_tracked()


async def test_adopt_a_tenant_of_two_thousand_guests_then_sweep_it(world, emulator):
    clock, make = world
    sponsor = emulator.seed_user(userType="Member", mail="boss@contoso.example")["id"]
    accepted = emulator.seed_users(count=GUESTS // 2, userType="Guest", mail="a{n}@partner.example",
                                   externalUserState="Accepted", sponsors=[sponsor])
    pending = emulator.seed_users(count=GUESTS // 2, userType="Guest", mail="p{n}@partner.example",
                                  externalUserState="PendingAcceptance")
    members = emulator.seed_users(count=3, userType="Member", mail="m{n}@contoso.example")
    svc = make()
    emulator.clear_calls()

    dry = (await svc.adoption.adopt(actor="test", dry_run=True, expires_in_days=60)).to_body()
    assert dry == {"dryRun": True, "found": GUESTS, "adopted": GUESTS, "alreadyTracked": 0, "skipped": [],
                   "guard": {"tripped": False, "message": ""}}
    assert await tracked(svc) == 0

    real = (await svc.adoption.adopt(actor="test", expires_in_days=60)).to_body()
    assert real["adopted"] == GUESTS and real["skipped"] == [] and await tracked(svc) == GUESTS
    again = (await svc.adoption.adopt(actor="test")).to_body()
    assert again["adopted"] == 0 and again["alreadyTracked"] == GUESTS
    assert emulator.writes() == 0  # adoption only reads Graph
    calls = emulator.calls()["counts"]
    # a counting pass per run (pages of 999); the run that writes makes a second pass with the sponsors expanded
    # (with $expand Graph serves pages of at most 100 users: past SINGLE_RANGE_PAGES pages the directory is read in
    # ranges by the first character of the userPrincipalName, each range at most one page more than its guests
    # fill); the last run has nothing to write: no second pass
    expanded_pass = calls.get("GET /users") - 3 * math.ceil(GUESTS / 999)
    most = SINGLE_RANGE_PAGES + math.ceil(GUESTS / 100) + len(FIRST_CHARACTERS)
    assert math.ceil(GUESTS / 100) <= expanded_pass <= most
    assert not [route for route in calls if "sponsors" in route]  # no per-guest sponsor reads

    store = svc.records.store
    first, other = await store.get(accepted[0]), await store.get(pending[0])
    assert first.state is GuestState.ACTIVE and first.sponsors == (sponsor,) and first.adopted_at is not None
    assert first.expires_at == clock.now + timedelta(days=60) and first.directory_created_at is not None
    assert other.state is GuestState.INVITED and other.email == emulator.user(pending[0])["mail"]
    assert all([await store.get(m) is None for m in members])
    events = [e.type for e in await store.pending_events(5 * GUESTS)]
    assert events.count("guest.adopted") == GUESTS and "guest.invited" not in events
    audit = await svc.audit.entries_for(accepted[0])
    assert [(e.action, e.outcome) for e in audit] == [("guest.adopt", "succeeded")]

    for user_id in pending[:250]:
        emulator.redeem(user_id)
    emulator.clear_calls()
    report = await svc.expiry.run()
    assert emulator.count("GET /users") == math.ceil(GUESTS / 999) == report.directory["requests"]
    assert report.refreshed == {"checked": GUESTS, "redeemed": 250} and not report.failures, report.failures[:3]
    assert report.directory["requestsPerThousandGuests"] == 1.5
    assert (await store.get(pending[0])).state is GuestState.ACTIVE
    assert emulator.count("GET /users/{id}") == 0  # no per-guest refresh


async def test_adopting_a_group_takes_its_guests_and_never_its_members(world, emulator):
    clock, make = world
    group = "6f1c1ef7-2b1e-4a3c-9d51-0000000000a1"
    emulator.seed_group(id=group, displayName="group")
    inside = emulator.seed_users(count=3, userType="Guest", mail="in{n}@partner.example", memberOf=[group])
    emulator.seed_users(count=2, userType="Guest", mail="out{n}@partner.example")
    (member,) = emulator.seed_users(count=1, userType="Member", mail="staff{n}@contoso.example", memberOf=[group])
    with pytest.raises(Forbidden):  # neither managed nor excluded: refused before Graph is read
        await make().adoption.adopt(actor="test", group_id=group)
    svc = make(EXPIRY_EXCLUDED_GROUP_IDS=group)
    report = (await svc.adoption.adopt(actor="test", group_id=group)).to_body()
    assert report["adopted"] == 3 and report["found"] == 3 and report["skipped"] == []
    assert member not in str(report)  # the report names guests only
    assert sorted(g.id for g in (await svc.records.store.query(GuestQuery())).guests) == sorted(inside)


async def test_adoption_never_makes_many_guests_due_at_once(world, emulator):
    clock, make = world
    long_ago = (clock.now - timedelta(days=400)).isoformat().replace("+00:00", "Z")
    emulator.seed_users(count=20, userType="Guest", mail="old{n}@partner.example", externalUserState="Accepted",
                        createdDateTime=long_ago)
    svc = make(INACTIVITY_DAYS="90")
    dry = (await svc.adoption.adopt(actor="test", dry_run=True)).to_body()
    assert dry["guard"]["tripped"] and "20 guests" in dry["guard"]["message"]
    with pytest.raises(Conflict):
        await svc.adoption.adopt(actor="test")
    assert await tracked(svc) == 0


async def test_the_plan_is_what_the_sweep_then_does(world, emulator):
    clock, make = world
    ids = emulator.seed_users(count=6, userType="Guest", mail="plan{n}@partner.example", externalUserState="Accepted")
    svc = make(EXPIRY_GUARD_MIN="100")
    await svc.adoption.adopt(actor="test", expires_in_days=5)
    clock.now += timedelta(days=6)
    writes = emulator.writes()
    plan, survey = await svc.expiry.plan()
    body = describe_plan(plan, survey)
    assert emulator.writes() == writes
    assert sorted(a["guestId"] for a in body["actions"]) == sorted(ids)
    assert {(a["action"], a["reason"]) for a in body["actions"]} == {("disable", "expired")}
    report = await svc.expiry.run()
    assert report.done == {"disable": 6}
    assert all([(await svc.records.store.get(i)).state is GuestState.DISABLED for i in ids])


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_inactivity_with_and_without_a_licence(world, emulator):
    clock, make = world
    old, recent = clock.now - timedelta(days=120), clock.now - timedelta(days=3)
    quiet, busy, background = emulator.seed_users(users=[
        {"mail": "quiet@partner.example", "signInActivity": {"lastSuccessfulSignInDateTime": stamp(old)}},
        {"mail": "busy@partner.example", "signInActivity": {"lastSuccessfulSignInDateTime": stamp(recent)}},
        {"mail": "bg@partner.example", "signInActivity": {"lastSignInDateTime": stamp(old),
                                                            "lastNonInteractiveSignInDateTime": stamp(recent)}},
    ], userType="Guest", externalUserState="Accepted")
    svc = make(INACTIVITY_DAYS="90")
    await svc.adoption.adopt(actor="test", expires_in_days=365)

    emulator.configure(signInActivity="unlicensed")
    report = await svc.expiry.run()
    assert report.done == {} and "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in report.inactivity
    assert emulator.count("GET /users") == 2 + 1 + 1  # adoption's two passes, the 403, the pass again
    emulator.configure(signInActivity="empty")
    report = await svc.expiry.run()
    assert report.done == {} and "no sign-in date for any guest" in report.inactivity

    emulator.configure(signInActivity="available")
    report = await svc.expiry.run()
    assert report.done == {"disable": 1} and report.inactivity.startswith("90 days"), report.to_text()
    record = await svc.records.store.get(quiet)
    assert record.disabled_reason.value == "inactivity" and emulator.user(quiet)["accountEnabled"] is False
    assert all([(await svc.records.store.get(i)).is_live for i in (busy, background)])


async def test_nested_exclusion_in_the_sweep(world, emulator):
    clock, make = world
    outer, inner = "6f1c1ef7-2b1e-4a3c-9d51-0000000000b1", "6f1c1ef7-2b1e-4a3c-9d51-0000000000b2"
    emulator.seed_group(id=outer, displayName="group")
    emulator.seed_group(id=inner, displayName="group")
    emulator.add_members(outer, [inner])
    kept, other = emulator.seed_users(count=2, userType="Guest", mail="x{n}@partner.example",
                                      externalUserState="Accepted")
    emulator.add_members(inner, [kept])
    svc = make(EXPIRY_EXCLUDED_GROUP_IDS=outer)
    await svc.adoption.adopt(actor="test", expires_in_days=1)
    clock.now += timedelta(days=2)
    plan, _ = await svc.expiry.plan()
    assert [(a.guest_id, a.kind.value) for a in plan.actions] == [(other, "disable")]
    report = await svc.expiry.run()
    assert report.done == {"disable": 1}
    assert report.excluded == [{"guestId": kept, "group": outer, "action": "disable", "reason": "expired"}]
    assert (await svc.records.store.get(kept)).is_live and emulator.user(kept)["accountEnabled"] is True
    assert emulator.count("GET /groups/{id}/transitiveMembers/microsoft.graph.user") == 2  # once per sweep

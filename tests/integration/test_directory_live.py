"""The Directory port's directory pass and batched writes on msgraph-sdk over real HTTP to the Graph emulator."""
from __future__ import annotations

import math
import time

import pytest

from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.adapters.graph.retry import GraphRetryPolicy
from lifecycle.errors import GraphUnavailable
from lifecycle.ports import UserChanges
from lifecycle.request_log import collect_request_ids

pytestmark = pytest.mark.azurite


@pytest.fixture
async def directory(live_settings):
    graph = GraphDirectory(live_settings)
    yield graph
    await graph.close()


async def test_the_guests_in_one_paged_pass(directory, emulator):
    guests = emulator.seed_users(count=2000, userType="Guest", mail="g{n}@partner.example",  # n counts from 1
                                 displayName="Guest {n}", externalUserState="Accepted")
    emulator.seed_users(count=5, userType="Member", mail="m{n}@contoso.example")
    emulator.clear_calls()
    listing = await directory.list_guests(sign_in_activity=False)
    assert sorted(u.id for u in listing.users) == sorted(guests) and all(u.is_guest for u in listing.users)
    assert listing.requests == math.ceil(2000 / 999) == emulator.count("GET /users")
    first = next(u for u in listing.users if u.id == guests[0])
    assert first.email == "g1@partner.example" and first.display_name == "Guest 1" and first.created_at is not None
    assert first.sign_in is None and not listing.sign_ins_read


async def test_sponsors_of_a_guest(directory, emulator):
    sponsor = emulator.seed_user(userType="Member", mail="boss@contoso.example")["id"]
    (guest,) = emulator.seed_users(users=[{"userType": "Guest", "mail": "s@partner.example", "sponsors": [sponsor]}])
    assert await directory.sponsor_ids(guest) == (sponsor,)


# --- a user's writes in one $batch -----------------------------------------------------------------
ADDS, REMOVALS = "POST /groups/{id}/members/$ref", "DELETE /groups/{id}/members/{id}/$ref"


def _guest_in_groups(emulator, joined: int, left: int) -> tuple[str, list[str], list[str]]:
    user_id = emulator.seed_user(userType="Guest", mail="g@partner.example")["id"]
    adds = [emulator.seed_group(displayName=f"join {n}")["id"] for n in range(joined)]
    removals = [emulator.seed_group(displayName=f"leave {n}")["id"] for n in range(left)]
    for group_id in removals:
        emulator.add_members(group_id, [user_id])
    emulator.clear_calls()
    return user_id, adds, removals


async def test_a_guests_adds_removal_and_attribute_write_are_one_request(directory, emulator):
    user_id, adds, removals = _guest_in_groups(emulator, 5, 1)
    with collect_request_ids() as request_ids:
        outcomes = await directory.apply_changes(UserChanges(user_id, tuple(adds), tuple(removals),
                                                             {"companyName": "Fabrikam"}))
    assert all(o.done for o in outcomes) and len(outcomes) == 7
    assert emulator.count("POST /$batch") == 1 and emulator.calls()["total"] == 1 + 7
    assert (emulator.count(ADDS), emulator.count(REMOVALS), emulator.count("PATCH /users/{id}")) == (5, 1, 1)
    assert len(request_ids) == 8  # each write's and the envelope's (sent for this caller alone), for the audit trail


async def test_more_than_twenty_writes_go_in_batches_of_twenty(directory, emulator):
    user_id, adds, removals = _guest_in_groups(emulator, 38, 3)
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(adds), tuple(removals),
                                                         {"companyName": "Fabrikam"}))
    assert all(o.done for o in outcomes) and len(outcomes) == 42
    assert emulator.count("POST /$batch") == 3 and (emulator.count(ADDS), emulator.count(REMOVALS)) == (38, 3)


async def test_only_the_throttled_write_is_sent_again_after_its_retry_after(directory, emulator):
    user_id, adds, _ = _guest_in_groups(emulator, 4, 0)
    # Seed 30 at a fault rate of 0.5: the second item drawn is answered 429, the next ones are not.
    emulator.configure(faultRate=0.5, faultStatuses=[429], faultRetryAfter=1, faultPhase="before", seed=30)
    started = time.monotonic()
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(adds)))
    assert all(o.done for o in outcomes) and time.monotonic() - started >= 1
    assert emulator.count("POST /$batch") == 2 and emulator.count(ADDS) == 4 + 1
    assert all(set(emulator.group_members(g)) == {user_id} for g in adds)


async def test_a_write_throttled_past_the_budget_ends_unavailable_and_the_others_done(live_settings, emulator):
    directory = GraphDirectory(live_settings, GraphRetryPolicy(attempts=2, min_wait=0.01))
    user_id, adds, _ = _guest_in_groups(emulator, 3, 0)
    # Seed 22 at a fault rate of 0.5: the second item drawn is answered 503, and so is the one sent again.
    emulator.configure(faultRate=0.5, faultStatuses=[503], faultPhase="before", seed=22)
    try:
        outcomes = await directory.apply_changes(UserChanges(user_id, tuple(adds)))
    finally:
        await directory.close()
    assert [type(o.error) if o.error else None for o in outcomes] == [None, GraphUnavailable, None]
    assert emulator.count("POST /$batch") == 2 and emulator.count(ADDS) == 3 + 1
    assert [set(emulator.group_members(g)) for g in adds] == [{user_id}, set(), {user_id}]


async def test_a_single_write_is_its_own_call(directory, emulator):
    user_id, adds, _ = _guest_in_groups(emulator, 1, 0)
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(adds)))
    assert [o.done for o in outcomes] == [True]
    assert emulator.count("POST /$batch") == 0 and emulator.count(ADDS) == 1

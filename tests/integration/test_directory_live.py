"""The Directory port's directory pass on msgraph-sdk over real HTTP to the Graph emulator."""
from __future__ import annotations

import math

import pytest

from lifecycle.adapters.graph import GraphDirectory

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

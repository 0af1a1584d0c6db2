"""Bounded records and unreadable rows on Azurite and the Graph emulator: a record never outgrows what Table Storage
holds (a change past a cap is refused before anything is written, and event data is bounded, so a disable that
Graph has made is always recorded); a damaged row is named (409), never a 500, and the list says it skipped it."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from azure.data.tables.aio import TableServiceClient

from lifecycle.adapters.tables import codec
from tests.api_client import api, call

pytestmark = pytest.mark.azurite


async def test_invites_adding_sponsors_are_refused_past_five_and_the_guest_stays_operable(live, emulator):
    sponsors = [emulator.seed_user(userType="Member", mail=f"sponsor{n}@contoso.com")["id"] for n in range(15)]
    guest_id = await api.invite_id("many@fabrikam.com", sponsors=sponsors[:5])
    for start in (5, 10):
        writes = emulator.writes()
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": "many@fabrikam.com",
                                                                         "sponsors": sponsors[start:start + 5]})
        assert status == 422 and body["error"]["code"] == "LimitExceeded" and emulator.writes() == writes
    assert len((await live.records.store.get(guest_id)).sponsors) == 5
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200 and body["state"] == "disabled" and body["pendingAction"] is None
    assert emulator.user(guest_id)["accountEnabled"] is False


async def test_a_disable_of_a_record_stored_near_the_size_limit_is_recorded(live, emulator):
    """A record whose sponsors fill its property (stored before the caps): the disable event used to carry them all,
    outgrew Table Storage after Graph had disabled the user, and left the guest pending (409) for good."""
    guest_id = await api.invite_id("legacy@fabrikam.com")
    store = live.records.store
    legacy = tuple(str(uuid.uuid4()) for _ in range(819))  # 32,758 characters of JSON: the most a property holds
    await store.save(replace(await store.get(guest_id), sponsors=legacy))
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200 and body["state"] == "disabled" and body["pendingAction"] is None, body
    assert emulator.user(guest_id)["accountEnabled"] is False
    status, body, _ = await call("enable_guest", "POST", f"guests/{guest_id}/enable", route={"id": guest_id})
    assert status == 200 and body["state"] == "invited"


async def test_a_damaged_row_is_named_on_get_and_skipped_by_every_listing(live, emulator, live_settings):
    kept = await api.invite_id("kept@fabrikam.com", expiresInDays=5)
    damaged = await api.invite_id("damaged@fabrikam.com", expiresInDays=5)
    async with TableServiceClient.from_connection_string(live_settings.tables_connection_string) as service:
        table = service.get_table_client(live_settings.table_name("guests"))
        row = await table.get_entity(codec.guest_partition(damaged), codec.guest_key(damaged))
        row["State"] = "bogus"  # a hand edit
        await table.upsert_entity(row)
    status, body, _ = await call("get_guest", "GET", f"guests/{damaged}", route={"id": damaged})
    assert status == 409 and body["error"]["code"] == "UnreadableRecord" and damaged in body["error"]["message"]
    status, page, _ = await call("list_guests", "GET", "guests")
    assert status == 200 and [g["id"] for g in page["value"]] == [kept]
    assert [s["id"] for s in page["skipped"]] == [damaged] and "bogus" in page["skipped"][0]["reason"]
    for params in ({"email": "damaged@fabrikam.com"}, {"expiringBefore": "2999-01-01T00:00:00Z"}):
        status, page, _ = await call("list_guests", "GET", "guests", params=params)
        assert status == 200 and [s["id"] for s in page["skipped"]] == [damaged], params

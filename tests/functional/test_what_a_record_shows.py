"""What the API shows of stored records: a guest's pending operation, and a stored record that cannot be read (named
in an error on GET, reported as skipped by the list, never a 500)."""
from __future__ import annotations

from dataclasses import replace

from tests.api_client import api, call


async def invite(email: str) -> str:
    body = await api.invite(email)
    assert body["pendingAction"] is None
    return body["id"]


async def test_a_guest_shows_the_operation_its_record_holds_as_under_way(fakes):
    guest_id = await invite("ann@fabrikam.com")
    stored = fakes.store.guests[guest_id]
    fakes.store.guests[guest_id] = replace(stored.begin("disable:manual", stored.updated_at), etag=stored.etag)
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and body["pendingAction"] == "disable:manual"
    _, page, _ = await call("list_guests", "GET", "guests")
    assert [g["pendingAction"] for g in page["value"]] == ["disable:manual"]


async def test_a_damaged_record_is_named_on_get_and_skipped_by_the_list(fakes):
    kept = await invite("bob@fabrikam.com")
    damaged = await invite("carol@fabrikam.com")
    del fakes.store.guests[damaged]
    fakes.store.damaged[damaged] = "ValueError: 'bogus' is not a valid GuestState"
    status, body, _ = await call("get_guest", "GET", f"guests/{damaged}", route={"id": damaged})
    assert status == 409 and body["error"]["code"] == "UnreadableRecord"
    assert damaged in body["error"]["message"] and "bogus" in body["error"]["message"]
    status, body, _ = await call("disable_guest", "POST", f"guests/{damaged}/disable", route={"id": damaged})
    assert status == 409 and body["error"]["code"] == "UnreadableRecord"
    status, page, _ = await call("list_guests", "GET", "guests")
    assert status == 200 and [g["id"] for g in page["value"]] == [kept]
    assert page["skipped"] == [{"id": damaged, "reason": "ValueError: 'bogus' is not a valid GuestState"}]
    _, clean, _ = await call("list_guests", "GET", "guests", params={"state": "invited"})
    assert clean["skipped"] == []

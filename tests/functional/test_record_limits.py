"""Bounded records: what a guest record holds is capped (sponsors at Microsoft Entra's 5, groups, attributes), a
change past a cap is refused before anything is written (422 LimitExceeded, saying what to send), and the guest
stays operable afterwards. Event data stays bounded whatever a record holds."""
from __future__ import annotations

from lifecycle.domain import limits
from lifecycle.domain.model import Guest
from tests.api_client import call
from tests.support import GROUP_A, GROUP_B


def sponsors(fakes, count: int) -> list[str]:
    return [fakes.directory.add_user(f"sponsor{n}@contoso.com", user_type="Member") for n in range(count)]


async def test_invites_adding_sponsors_end_in_a_clear_refusal_and_the_guest_stays_operable(fakes):
    people = sponsors(fakes, 40)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ann@fabrikam.com",
                                                                     "sponsors": people[:3]})
    assert status == 201
    guest_id = body["id"]
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ann@fabrikam.com",
                                                                     "sponsors": people[3:5]})
    assert status == 200 and body["sponsors"] == people[:5]
    for start in range(5, 40, 5):  # every later request would add sponsors past Entra's five
        stored, writes = fakes.store.guests[guest_id], list(fakes.directory.writes)
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ann@fabrikam.com",
                                                                         "sponsors": people[start:start + 5]})
        assert status == 422 and body["error"]["code"] == "LimitExceeded", body
        assert "at most 5 sponsors" in body["error"]["message"] and "send only sponsors it lacks" in \
            body["error"]["message"]
        assert body["error"]["details"][0]["limit"] == "sponsors"
        assert fakes.store.guests[guest_id] == stored and fakes.directory.writes == writes  # nothing written
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ann@fabrikam.com",
                                                                     "sponsors": people[:5]})
    assert status == 200  # sponsors it already has add nothing
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200 and body["state"] == "disabled" and body["pendingAction"] is None
    assert fakes.directory.users[guest_id]["accountEnabled"] is False
    status, body, _ = await call("enable_guest", "POST", f"guests/{guest_id}/enable", route={"id": guest_id})
    assert status == 200 and body["state"] == "invited"


async def test_a_group_past_the_cap_is_refused_before_anything_is_written(fakes, monkeypatch):
    monkeypatch.setattr(limits, "MAX_GROUPS", 1)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "bob@fabrikam.com", "groups": [GROUP_A]})
    guest_id = body["id"]
    stored, writes = fakes.store.guests[guest_id], list(fakes.directory.writes)
    status, body, _ = await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{GROUP_B}",
                                 route={"id": guest_id, "groupId": GROUP_B})
    assert status == 422 and body["error"]["code"] == "LimitExceeded" and "remove it from groups" in \
        body["error"]["message"]
    assert fakes.store.guests[guest_id] == stored and fakes.directory.writes == writes
    status, body, _ = await call("remove_guest_from_group", "DELETE", f"guests/{guest_id}/groups/{GROUP_A}",
                                 route={"id": guest_id, "groupId": GROUP_A})
    assert status == 200 and body["groups"] == []


async def test_a_record_stored_over_a_cap_before_the_caps_stays_operable(fakes):
    guest_id = fakes.directory.add_user("legacy@fabrikam.com")
    await fakes.store.create(Guest(id=guest_id, email="legacy@fabrikam.com",
                                   sponsors=tuple(f"s{n}" for n in range(815))), None)
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200 and body["state"] == "disabled"
    (event,) = [e for e in fakes.publisher.published if e.type == "guest.disabled"]
    assert len(event.data["sponsors"]) == 5 and event.data["sponsorsOmitted"] == 810


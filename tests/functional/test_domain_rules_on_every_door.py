"""The domain lists judge every address a guest has in Graph (mail, otherMails, the address its userPrincipalName
encodes) at every door that gives or keeps access: invite, group grants, extend, re-invite (adoption: see
test_directory_http.py). And an address a member owns is never a guest's, even when a guest lists it in otherMails."""
from __future__ import annotations

import pytest

from tests.api_client import call
from tests.rewire import with_settings
from tests.support import GROUP_A

BLOCKED = "blocked.example"


async def tracked_guest(fakes, email: str = "ann@fabrikam.com") -> str:
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": email})
    assert status == 201
    return body["id"]


def give_address(fakes, guest_id: str, how: str) -> None:
    """An administrator (or the guest's own redemption) gave the user an address in a blocked domain."""
    user = fakes.directory.users[guest_id]
    if how == "otherMails":
        user["otherMails"] = [user["mail"], f"ann@{BLOCKED}"]
    else:
        user["userPrincipalName"] = f"ann_{BLOCKED}#EXT#@tenant.onmicrosoft.com"


def assert_refused(status: int, body: dict) -> None:
    assert status == 403 and body["error"]["code"] == "DomainNotAllowed"
    assert f"ann@{BLOCKED}" in body["error"]["message"]


@pytest.mark.parametrize("how", ["otherMails", "userPrincipalName"])
async def test_a_group_grant_is_refused_and_a_removal_is_not(fakes, how):
    guest_id = await tracked_guest(fakes)
    await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{GROUP_A}",
               route={"id": guest_id, "groupId": GROUP_A})
    give_address(fakes, guest_id, how)
    with_settings(fakes, BLOCKED_EMAIL_DOMAINS=BLOCKED)
    other = "6f1c1ef7-2b1e-4a3c-9d51-00000000000b"
    before = fakes.store.guests[guest_id]
    status, body, _ = await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{other}",
                                 route={"id": guest_id, "groupId": other})
    assert_refused(status, body)
    assert fakes.store.guests[guest_id] == before and fakes.directory.groups[other] == set()
    status, body, _ = await call("remove_guest_from_group", "DELETE", f"guests/{guest_id}/groups/{GROUP_A}",
                                 route={"id": guest_id, "groupId": GROUP_A})
    assert status == 200 and body["groups"] == []


@pytest.mark.parametrize("how", ["otherMails", "userPrincipalName"])
async def test_extend_and_reinvite_are_refused_before_anything_is_written(fakes, how):
    guest_id = await tracked_guest(fakes)
    give_address(fakes, guest_id, how)
    with_settings(fakes, ALLOWED_EMAIL_DOMAINS="fabrikam.com")
    before, writes = fakes.store.guests[guest_id], list(fakes.directory.writes)
    status, body, _ = await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"days": 30},
                                 route={"id": guest_id})
    assert_refused(status, body)
    status, body, _ = await call("reinvite_guest", "POST", f"guests/{guest_id}/reinvite", None,
                                 route={"id": guest_id})
    assert_refused(status, body)
    assert fakes.store.guests[guest_id] == before and fakes.directory.writes == writes
    status, _, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    assert status == 200  # taking access away is never refused


async def test_extend_and_reinvite_of_a_guest_whose_addresses_pass_go_on(fakes):
    guest_id = await tracked_guest(fakes)
    fakes.directory.users[guest_id]["userPrincipalName"] = "ann_fabrikam.com#EXT#@tenant.onmicrosoft.com"
    with_settings(fakes, ALLOWED_EMAIL_DOMAINS="fabrikam.com")
    status, _, _ = await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"days": 30},
                              route={"id": guest_id})
    assert status == 200
    status, body, _ = await call("reinvite_guest", "POST", f"guests/{guest_id}/reinvite", None, route={"id": guest_id})
    assert status == 200 and body["inviteRedeemUrl"]


async def test_inviting_the_address_of_an_existing_guest_with_a_blocked_address_adopts_nothing(fakes):
    user_id = fakes.directory.add_user(f"old@{BLOCKED}")
    fakes.directory.users[user_id]["otherMails"] = ["new@fabrikam.com"]
    with_settings(fakes, BLOCKED_EMAIL_DOMAINS=BLOCKED)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "new@fabrikam.com"})
    assert status == 403 and body["error"]["code"] == "DomainNotAllowed"
    assert f"old@{BLOCKED}" in body["error"]["message"]
    assert fakes.store.guests == {} and fakes.store.claims == {} and fakes.directory.writes == []


async def test_inviting_a_tracked_guest_again_is_refused_once_one_of_its_addresses_is_blocked(fakes):
    guest_id = await tracked_guest(fakes)
    give_address(fakes, guest_id, "otherMails")
    with_settings(fakes, BLOCKED_EMAIL_DOMAINS=BLOCKED)
    before = fakes.store.guests[guest_id]
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "ann@fabrikam.com", "groups": [GROUP_A]})
    assert_refused(status, body)
    assert fakes.store.guests[guest_id] == before and fakes.directory.groups[GROUP_A] == set()


async def test_pending_group_adds_of_a_guest_whose_address_became_blocked_are_dropped_never_written(fakes):
    guest_id = await tracked_guest(fakes)
    fakes.directory.unreplicated.add(guest_id)  # the add stays pending
    status, _, _ = await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{GROUP_A}",
                              route={"id": guest_id, "groupId": GROUP_A})
    assert status == 202
    fakes.directory.unreplicated.clear()
    give_address(fakes, guest_id, "userPrincipalName")
    with_settings(fakes, BLOCKED_EMAIL_DOMAINS=BLOCKED)
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and body["pendingGroups"] == [] and body["groups"] == []
    assert "DomainNotAllowed" not in body["lastError"] and f"ann@{BLOCKED}" in body["lastError"]
    assert fakes.directory.groups[GROUP_A] == set()
    dropped = [e for e in fakes.audit.entries if e.target == guest_id and e.action == "group.dropped"]
    assert [(e.outcome, e.details["reason"]) for e in dropped] == [("dropped", "DomainNotAllowed")]


# --- an address a member owns is the member's ---------------------------------------------------------------------
@pytest.mark.parametrize("owned_as", ["mail", "userPrincipalName", "proxyAddresses"])
async def test_a_members_address_listed_in_a_guests_other_mails_is_refused_as_a_members(fakes, owned_as):
    address = "dave@contoso.com"
    member = fakes.directory.add_user("dave.member@contoso.com", user_type="Member")
    owned = {"mail": address, "userPrincipalName": address, "proxyAddresses": [f"smtp:{address}"]}[owned_as]
    fakes.directory.users[member][owned_as] = owned
    guest = fakes.directory.add_user("dave@partner.example")
    fakes.directory.users[guest]["otherMails"] = [address]
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": address})
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert fakes.store.guests == {} and fakes.store.claims == {} and fakes.directory.writes == []


async def test_a_guest_still_wins_an_address_a_member_only_lists_in_other_mails(fakes):
    guest = fakes.directory.add_user("erin@partner.example")
    member = fakes.directory.add_user("staff@contoso.com", user_type="Member")
    fakes.directory.users[member]["otherMails"] = ["erin@partner.example"]
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "erin@partner.example"})
    assert status == 200 and body["id"] == guest

"""The invite and group functions called through func.HttpRequest, wired to in-memory fakes."""
from __future__ import annotations

from tests.api_client import call
from tests.support import GROUP_A, GROUP_B, GROUP_UNMANAGED


async def test_new_guest_is_invited_with_groups(fakes):
    status, body, headers = await call("invite_guest", "POST", "guests",
                                       {"email": "Ann@Fabrikam.com", "groups": [GROUP_A, GROUP_B]})
    assert status == 201
    assert body["email"] == "ann@fabrikam.com"
    assert body["state"] == "invited" and body["invitationState"] == "PendingAcceptance"
    assert sorted(body["groups"]) == sorted([GROUP_A, GROUP_B]) and body["pendingGroups"] == []
    assert body["inviteRedeemUrl"].startswith("https://")
    assert fakes.directory.groups[GROUP_A] == {body["id"]}
    assert [e.type for e in fakes.publisher.published] == ["guest.invited", "guest.group-added"]
    assert sorted(fakes.publisher.published[1].data["groupIds"]) == sorted([GROUP_A, GROUP_B])
    assert fakes.store.outbox == []
    assert fakes.audit.entries[-1].action == "guest.invite" and fakes.audit.entries[-1].outcome == "succeeded"


async def test_same_email_again_adopts_without_second_invitation(fakes):
    first = await call("invite_guest", "POST", "guests", {"email": "bob@fabrikam.com"})
    second = await call("invite_guest", "POST", "guests", {"email": "BOB@fabrikam.com", "groups": [GROUP_A]})
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["id"] == second[1]["id"] and second[1]["groups"] == [GROUP_A]
    assert [w for w in fakes.directory.writes if w[0] == "invite"] == [("invite", "bob@fabrikam.com")]


async def test_existing_guest_in_directory_is_adopted(fakes):
    user_id = fakes.directory.add_user("carol@fabrikam.com", state="Accepted")
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "carol@fabrikam.com"})
    assert status == 200 and body["id"] == user_id and body["state"] == "active"
    assert not [w for w in fakes.directory.writes if w[0] == "invite"]


async def test_member_email_is_refused(fakes):
    fakes.directory.add_user("dave@contoso.com", user_type="Member")
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "dave@contoso.com"})
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert fakes.store.claims == {} and fakes.directory.writes == []


async def test_unmanaged_group_is_refused_before_any_graph_call(fakes):
    status, body, _ = await call("invite_guest", "POST", "guests",
                                 {"email": "erin@fabrikam.com", "groups": [GROUP_A, GROUP_UNMANAGED]})
    assert status == 403 and body["error"]["code"] == "GroupNotManaged"
    assert body["error"]["details"] == [{"groupId": GROUP_UNMANAGED}]
    assert fakes.directory.writes == [] and fakes.store.guests == {}


async def test_pending_group_gives_202_with_location(fakes):
    fakes.directory.unreplicated.add(GROUP_B)  # Graph does not show it yet
    status, body, headers = await call("invite_guest", "POST", "guests",
                                       {"email": "finn@fabrikam.com", "groups": [GROUP_A, GROUP_B]})
    assert status == 202
    assert body["groups"] == [GROUP_A] and body["pendingGroups"] == [GROUP_B]
    assert headers["Location"].endswith(f"/api/guests/{body['id']}") and headers["Retry-After"]
    assert fakes.store.guests[body["id"]].pending_groups == (GROUP_B,)


async def test_invalid_bodies_are_400_and_change_nothing(fakes):
    cases = [b"{not json", b'{"email": 5}', b'{"email": "a@b.co", "sendInvitationMessage": "yes"}',
             b'{"email": "a@b.co", "sponsors": ["' + b'", "'.join([b"6f1c1ef7-2b1e-4a3c-9d51-00000000000%d" % i
                                                                  for i in range(6)]) + b'"]}',
             b'{"email": "a@b.co", "expiresAt": "2001-01-01T00:00:00Z"}', b'{"email": "a@b.co", "extra": 1}',
             b"[]", b"", b'{"email": "a@b.co", "redirectUrl": "http://insecure.example"}',
             b'{"email": "' + b"a" * 70000 + b'@b.co"}']
    for raw in cases:
        status, body, _ = await call("invite_guest", "POST", "guests", raw=raw)
        assert status == 400, raw[:60]
        assert body["error"]["code"] in ("InvalidRequest", "BodyTooLarge")
    assert fakes.store.guests == {} and fakes.store.claims == {} and fakes.directory.writes == []


async def test_group_put_and_delete_are_idempotent(fakes):
    _, guest, _ = await call("invite_guest", "POST", "guests", {"email": "gil@fabrikam.com"})
    route = {"id": guest["id"], "groupId": GROUP_A}
    path = f"guests/{guest['id']}/groups/{GROUP_A}"
    first = await call("add_guest_to_group", "PUT", path, route=route)
    writes = len(fakes.directory.writes)
    again = await call("add_guest_to_group", "PUT", path, route=route)
    assert (first[0], again[0]) == (200, 200) and again[1]["groups"] == [GROUP_A]
    assert len(fakes.directory.writes) == writes
    removed = await call("remove_guest_from_group", "DELETE", path, route=route)
    removed_again = await call("remove_guest_from_group", "DELETE", path, route=route)
    assert removed[0] == removed_again[0] == 200 and removed_again[1]["groups"] == []
    assert fakes.directory.groups[GROUP_A] == set()


async def test_unknown_and_malformed_ids(fakes):
    status, body, _ = await call("get_guest", "GET", "guests/x", route={"id": "6f1c1ef7-2b1e-4a3c-9d51-123456789012"})
    assert status == 404 and body["error"]["code"] == "GuestNotFound"
    status, body, _ = await call("get_guest", "GET", "guests/x", route={"id": "not-a-guid"})
    assert status == 400


async def test_list_filters_and_pages(fakes):
    for name in ("h1", "h2", "h3"):
        await call("invite_guest", "POST", "guests", {"email": f"{name}@fabrikam.com"})
    status, page, _ = await call("list_guests", "GET", "guests", params={"pageSize": "2"})
    assert status == 200 and len(page["value"]) == 2 and page["continuationToken"]
    _, rest, _ = await call("list_guests", "GET", "guests",
                            params={"pageSize": "2", "continuationToken": page["continuationToken"]})
    assert len(rest["value"]) == 1 and rest["continuationToken"] is None
    _, by_mail, _ = await call("list_guests", "GET", "guests", params={"email": "H2@fabrikam.com"})
    assert [g["email"] for g in by_mail["value"]] == ["h2@fabrikam.com"]
    status, _, _ = await call("list_guests", "GET", "guests", params={"state": "bogus"})
    assert status == 400


async def test_completed_invitation_reads_redemption_from_the_user(fakes, monkeypatch):
    """The guest redeemed between our lookup and our invitation: Graph answers status Completed (never Accepted),
    and the record takes the user's externalUserState."""
    user_id = fakes.directory.add_user("race@fabrikam.com", state="Accepted")

    real_lookup, lookups = fakes.directory.find_user_by_email, []

    async def first_lookup_misses(email: str):  # our lookup ran before the other invitation replicated
        lookups.append(email)
        return None if len(lookups) == 1 else await real_lookup(email)

    monkeypatch.setattr(fakes.directory, "find_user_by_email", first_lookup_misses)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "race@fabrikam.com"})
    assert status == 200 and body["id"] == user_id
    assert body["state"] == "active" and body["invitationState"] == "Accepted"
    assert [w for w in fakes.directory.writes if w[0] == "invite"] == [("invite", "race@fabrikam.com")]

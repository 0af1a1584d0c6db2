"""What Graph refuses for good reaches the caller as 4xx with Graph's reason; replication lag is retried; sponsors of
an adopted guest reach Graph. Real msgraph-sdk over HTTP to the Graph emulator, state in Azurite."""
from __future__ import annotations

import logging
import uuid
from urllib.parse import quote

import pytest

from tests.api_client import api, call
from tests.support import GROUP_A, GROUP_B, queued_events

pytestmark = pytest.mark.azurite
UNKNOWN_SPONSOR = "4f1c3a52-8d9e-4b6f-a1c2-3d4e5f607199"


async def add_to_group(guest_id: str, group_id: str) -> tuple[int, dict, dict]:
    return await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{group_id}",
                      route={"id": guest_id, "groupId": group_id})


def refusing_group(emulator, group_id: str, **props) -> None:
    """Replace a managed group by one with the same id that refuses member writes."""
    emulator.remove_group(group_id)
    emulator.seed_group(id=group_id, displayName="refuses", **props)


def queue_messages(live) -> list[dict]:
    return queued_events(live.settings.tables_connection_string, live.settings.events_queue)


async def test_email_characters_graph_refuses_are_400_naming_the_field_before_graph(live, emulator):
    for email in ("ann+tag@fabrikam.com", "ré@fabrikam.com", "a#b@fabrikam.com", "a,b@fabrikam.com"):
        status, body, _ = await api.send_invite({"email": email})
        assert status == 400 and [d["field"] for d in body["error"]["details"]] == ["email"], email
    assert emulator.calls()["total"] == 0


async def test_unknown_sponsor_is_422_with_graphs_reason_and_nothing_is_left_behind(live, emulator):
    status, body, _ = await api.send_invite({"email": "sue@fabrikam.com", "sponsors": [UNKNOWN_SPONSOR]})
    assert status == 422 and body["error"]["code"] == "GraphRejectedInput"
    detail = body["error"]["details"][0]
    assert detail["graphStatus"] == 404 and detail["graphCode"] == "Request_ResourceNotFound"
    assert UNKNOWN_SPONSOR in detail["graphMessage"]
    assert emulator.users(mail="sue@fabrikam.com") == []
    assert await live.records.store.get_claim("sue@fabrikam.com") is None  # released, not pending


async def test_a_managed_group_that_no_longer_exists_is_422_and_not_pending(live, emulator):
    emulator.remove_group(GROUP_B)
    status, body, _ = await api.send_invite({"email": "gone@fabrikam.com", "groups": [GROUP_A, GROUP_B]})
    assert status == 422 and body["error"]["code"] == "GraphRejectedInput"
    assert "no longer exists" in body["error"]["message"]
    guest_id = next(d["guestId"] for d in body["error"]["details"] if "guestId" in d)
    stored = await live.records.store.get(guest_id)
    assert stored.groups == (GROUP_A,) and stored.pending_groups == () and GROUP_B in stored.last_error
    assert emulator.group_members(GROUP_A) == [guest_id]
    audit = await live.audit.entries_for("gone@fabrikam.com")
    assert audit[-1].outcome == "failed: GraphRejectedInput"


@pytest.mark.parametrize("props, graph_status, reason", [
    ({"groupTypes": ["DynamicMembership"], "membershipRule": '(user.userType -eq "Guest")'}, 403, "dynamic"),
    ({"onPremisesSyncEnabled": True}, 400, "on-premises"),
    ({"isAssignableToRole": True}, 403, "role-assignable"),
])
async def test_a_group_that_refuses_members_is_422_with_graphs_reason(live, emulator, props, graph_status, reason):
    status, body, _ = await api.send_invite({"email": "rita@fabrikam.com"})
    assert status == 201
    guest_id = body["id"]
    refusing_group(emulator, GROUP_B, **props)
    status, body, _ = await add_to_group(guest_id, GROUP_B)
    assert status == 422 and body["error"]["code"] == "GraphRejectedInput" and reason in body["error"]["message"]
    assert body["error"]["details"][0]["graphStatus"] == graph_status
    stored = await live.records.store.get(guest_id)
    assert GROUP_B not in stored.pending_groups and GROUP_B not in stored.groups
    assert (await live.audit.entries_for(guest_id))[-1].outcome == "failed: GraphRejectedInput"


async def test_pending_group_work_whose_group_refuses_is_recorded_failed_by_the_sweep(live, emulator):
    emulator.configure(replicationLag=10_000)
    status, body, _ = await api.send_invite({"email": "late@fabrikam.com", "groups": [GROUP_B]})
    assert status == 202 and body["pendingGroups"] == [GROUP_B]
    emulator.configure(replicationLag=0)
    emulator.update_user(body["id"], lagRemaining=0)
    refusing_group(emulator, GROUP_B, groupTypes=["DynamicMembership"])
    await live.expiry.run()
    stored = await live.records.store.get(body["id"])
    assert stored.pending_groups == () and stored.groups == () and "dynamic" in stored.last_error
    audit = await live.audit.entries_for(body["id"])
    assert [(e.action, e.outcome, e.details["groupId"]) for e in audit if e.action == "group.add"] == [
        ("group.add", "failed: GraphRejectedInput", GROUP_B)]


async def test_directory_object_not_found_right_after_the_invitation_is_lag(live, emulator):
    emulator.configure(replicationLag=2)
    status, body, _ = await api.send_invite({"email": "attr@fabrikam.com", "attributes": {"companyName": "Fabrikam"}})
    assert status == 201, body
    assert emulator.user(body["id"])["companyName"] == "Fabrikam"
    stored = await live.records.store.get(body["id"])
    assert stored.attributes == {"companyName": "Fabrikam"} and not stored.pending_attributes


async def test_a_redeemed_guest_is_adopted_as_active_and_its_sponsors_are_written(live, emulator):
    sponsor = emulator.seed_user(displayName="Sam", mail="sam@contoso.com")
    guest = emulator.seed_user(mail="vera@fabrikam.com", userType="Guest", externalUserState="Accepted")
    status, body, _ = await api.send_invite({"email": "vera@fabrikam.com", "sponsors": [sponsor["id"]]})
    assert status == 200 and body["id"] == guest["id"]
    assert body["state"] == "active" and body["invitationState"] == "Accepted" and body["sponsors"] == [sponsor["id"]]
    assert emulator.user(guest["id"])["sponsors"] == [sponsor["id"]]
    assert await live.directory.sponsor_ids(guest["id"]) == (sponsor["id"],)
    assert emulator.count("POST /invitations") == 0


async def test_unknown_sponsor_for_an_adopted_guest_is_422_and_leaves_the_record(live, emulator):
    guest = emulator.seed_user(mail="walt@fabrikam.com", userType="Guest")
    status, body, _ = await api.send_invite({"email": "walt@fabrikam.com", "sponsors": [UNKNOWN_SPONSOR]})
    assert status == 422 and body["error"]["code"] == "GraphRejectedInput"
    stored = await live.records.store.get(guest["id"])
    assert stored is not None and stored.sponsors == () and UNKNOWN_SPONSOR in stored.last_error


async def test_guest_invited_event_carries_the_redeem_url(live, emulator):
    status, body, _ = await api.send_invite({"email": "mail@fabrikam.com", "message": "Welcome"})
    assert status == 201
    invited = [m for m in queue_messages(live) if m["type"] == "guest.invited"]
    assert [m["data"]["inviteRedeemUrl"] for m in invited] == [body["inviteRedeemUrl"]]
    assert body["inviteRedeemUrl"].startswith("https://login.microsoftonline.com/redeem")


async def test_no_log_line_at_info_or_above_carries_a_guests_email(live, emulator, caplog):
    local = "zq" + uuid.uuid4().hex[:8]
    email = f"{local}@fabrikam.com"
    caplog.set_level(logging.INFO)
    emulator.configure(replicationLag=10_000)
    status, body, _ = await api.send_invite({"email": email, "groups": [GROUP_A]})
    assert status == 202
    await call("list_guests", "GET", "guests", params={"email": email})
    emulator.configure(replicationLag=0, faultRate=1.0, faultStatuses=[500])
    await call("list_guests", "GET", "guests", params={"email": email})
    await live.expiry.run()
    emulator.configure(faultRate=0)
    await live.expiry.run()
    lines = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert lines, "the run logged nothing at all: the capture is not working"
    leaked = [line for line in lines if local in line or quote(email) in line or local in quote(line)]
    assert leaked == []


async def test_removal_from_a_group_that_refuses_member_writes_is_422_and_not_pending(live, emulator):
    status, body, _ = await api.send_invite({"email": "rob@fabrikam.com", "groups": [GROUP_B]})
    assert status == 201 and body["groups"] == [GROUP_B]
    refusing_group(emulator, GROUP_B, onPremisesSyncEnabled=True)
    status, removed, _ = await call("remove_guest_from_group", "DELETE", f"guests/{body['id']}/groups/{GROUP_B}",
                                    route={"id": body["id"], "groupId": GROUP_B})
    assert status == 422 and "on-premises" in removed["error"]["message"]
    stored = await live.records.store.get(body["id"])
    assert stored.removing_groups == () and "refused" in stored.last_error

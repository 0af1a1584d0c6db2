"""The app against the emulator's strict Graph rules, end to end (Azurite, msgraph-sdk over HTTP).

Each test names the Graph rule it rests on; the emulator enforces it by default (tests/emulator)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.domain.model import GuestState
from tests.api_client import api, call

pytestmark = pytest.mark.azurite
DAY = timedelta(days=1)


def batches_refused(emulator) -> int:
    return sum(1 for entry in emulator.calls()["log"] if entry["route"] == "/$batch" and entry["status"] != 200)


async def test_a_sweep_with_twenty_guests_due_disables_then_deletes_all_twenty(app, emulator):
    # json-batching.md, "Sequencing requests": a batch is fully sequential or fully parallel, else 400 whole.
    live = app(EXPIRY_GUARD_PERCENT="100")
    ids = await asyncio.gather(*(api.invite_id(f"due{n}@fabrikam.com", expiresInDays=1) for n in range(20)))
    live.clock.offset = 2 * DAY
    report = await live.expiry.run()
    assert report.done == {"disable": 20} and not report.failures, report
    assert all(emulator.user(guest_id)["accountEnabled"] is False for guest_id in ids)
    assert emulator.count("POST /users/{id}/revokeSignInSessions") == 20 and batches_refused(emulator) == 0

    live.clock.offset = 40 * DAY
    report = await live.expiry.run()
    assert report.done == {"delete": 20} and not report.failures, report
    for guest_id in ids:
        assert emulator.user(guest_id)["deleted"] is True
        assert (await live.records.store.get(guest_id)).state is GuestState.DELETED


async def test_twenty_concurrent_http_disables_all_succeed(app, emulator):
    app()
    ids = [await api.invite_id(f"http{n}@fabrikam.com", expiresInDays=60) for n in range(20)]
    answers = await asyncio.gather(*(call("disable_guest", "POST", f"guests/{guest_id}/disable", None,
                                          route={"id": guest_id}) for guest_id in ids))
    assert [status for status, _, _ in answers] == [200] * 20, [body for _, body, _ in answers]
    assert all(emulator.user(guest_id)["accountEnabled"] is False for guest_id in ids)
    assert batches_refused(emulator) == 0


async def test_a_never_signed_in_guest_past_the_inactivity_window_is_disabled(app, emulator):
    # user-list.md / signinactivity.md: signInActivity is left out for a user who never signed in
    live = app(INACTIVITY_DAYS="30", INVITE_REDEEM_DAYS="0")
    quiet = await api.invite_id("quiet@fabrikam.com", expiresInDays=300)
    active = await api.invite_id("active@fabrikam.com", expiresInDays=300)
    live.clock.offset = 31 * DAY
    emulator.update_user(active, signInActivity={"lastSuccessfulSignInDateTime": (
        datetime.now(UTC) + 30 * DAY).isoformat().replace("+00:00", "Z")})
    report = await live.expiry.run()
    assert report.done == {"disable": 1} and not report.failures, report
    record = await live.records.store.get(quiet)
    assert record.state is GuestState.DISABLED and record.disabled_reason == "inactivity"
    assert (await live.records.store.get(active)).is_live


async def test_an_exclusion_group_is_read_with_the_advanced_query_headers(app, emulator):
    # group-list-transitivemembers.md: an OData cast needs ConsistencyLevel: eventual and $count=true
    outer, inner = emulator.seed_group(displayName="Keep")["id"], emulator.seed_group(displayName="Keep too")["id"]
    live = app(EXPIRY_EXCLUDED_GROUP_IDS=outer)
    kept = await api.invite_id("kept@fabrikam.com", expiresInDays=1)
    await api.invite_id("due@fabrikam.com", expiresInDays=1)
    emulator.add_members(inner, [kept])
    emulator.add_members(outer, [inner])
    live.clock.offset = 2 * DAY
    report = await live.expiry.run()
    assert report.done == {"disable": 1} and not report.failures, report
    assert [e["guestId"] for e in report.excluded] == [kept]
    assert emulator.count("GET /groups/{id}/transitiveMembers/microsoft.graph.user") == 1


async def test_a_mail_enabled_managed_group_answers_422_once_and_is_not_left_pending(app, emulator):
    # group-post-members.md, groups-overview.md: mail-enabled security groups and distribution lists are read-only
    read_only = emulator.seed_group(displayName="Mail-enabled", mailEnabled=True, securityEnabled=True,
                                    groupTypes=[], mail="list@contoso.example")["id"]
    app(MANAGED_GROUP_IDS=read_only)
    guest_id = await api.invite_id("mailgroup@fabrikam.com", expiresInDays=60)
    status, body, _ = await call("add_guest_to_group", "PUT", f"guests/{guest_id}/groups/{read_only}", None,
                                 route={"id": guest_id, "groupId": read_only})
    assert status == 422 and body["error"]["code"] == "GraphRejectedInput", body
    assert "mail-enabled" in body["error"]["details"][0]["reason"]
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", None, route={"id": guest_id})
    assert status == 200 and read_only not in body.get("pendingGroups", []), body
    assert emulator.group_members(read_only) == []


async def test_a_restore_over_a_taken_user_principal_name_answers_409_with_what_to_do(app, emulator):
    # directory-deleteditems-restore.md is silent; Graph answers 400 "Another object with the same value for property
    # userPrincipalName already exists." (microsoftgraph/microsoft-graph-docs#1508,
    # microsoftgraph/entra-powershell#1484)
    app()
    guest_id = await api.invite_id("taken@fabrikam.com", expiresInDays=60)
    assert (await call("delete_guest", "DELETE", f"guests/{guest_id}", None, route={"id": guest_id}))[0] == 200
    emulator.seed_user(mail="newcomer@contoso.example", userType="Member",
                       userPrincipalName=emulator.user(guest_id)["userPrincipalName"])
    status, body, _ = await call("restore_guest", "POST", f"guests/{guest_id}/restore", None, route={"id": guest_id})
    assert status == 409 and body["error"]["code"] == "GraphConflict", body
    assert "Rename or delete that object" in body["error"]["message"]
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", None, route={"id": guest_id})
    assert body["state"] == "deleted" and not body.get("pendingAction"), body


async def test_an_invitation_the_tenant_settings_refuse_answers_403_with_graphs_reason(app, emulator):
    app()
    emulator.configure(blockedInvitationDomains=["blocked.example"])
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "x@blocked.example"})
    assert status == 403 and body["error"]["code"] == "RefusedByTenantPolicy", body
    assert body["error"]["details"][0]["graphCode"] == "Authorization_RequestDenied"
    status, body, _ = await call("list_guests", "GET", "guests", None, params={"email": "x@blocked.example"})
    assert status == 200 and body["value"] == [], body

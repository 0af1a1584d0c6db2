"""Each lifecycle operation over HTTP functions, msgraph-sdk, the emulator and Azurite."""
from __future__ import annotations

import pytest

from tests.api_client import api, call

pytestmark = pytest.mark.azurite
UNKNOWN = "6f1c1ef7-2b1e-4a3c-9d51-999999999999"

OPERATIONS = {
    "disable": ("disable_guest", "POST", "disable", None),
    "enable": ("enable_guest", "POST", "enable", None),
    "extend": ("extend_guest", "POST", "extend", {"days": 45}),
    "reinvite": ("reinvite_guest", "POST", "reinvite", None),
    "delete": ("delete_guest", "DELETE", "", None),
    "restore": ("restore_guest", "POST", "restore", None),
}


async def run(operation: str, guest_id: str):
    name, method, verb, body = OPERATIONS[operation]
    return await api.on_guest(name, method, guest_id, verb, body)


async def test_disable_revokes_and_repeat_writes_nothing(live, emulator):
    guest_id = await api.invite_id("d@fabrikam.com")
    status, body, _ = await run("disable", guest_id)
    user = emulator.user(guest_id)
    assert status == 200 and body["state"] == "disabled"
    assert user["accountEnabled"] is False and user["signInSessionsValidFromDateTime"]
    writes = emulator.writes()
    status, body, _ = await run("disable", guest_id)
    assert status == 200 and body["state"] == "disabled" and emulator.writes() == writes


async def test_enable_extend_reinvite(live, emulator):
    guest_id = await api.invite_id("e@fabrikam.com")
    await run("disable", guest_id)
    status, body, _ = await run("enable", guest_id)
    assert status == 200 and body["state"] == "invited" and emulator.user(guest_id)["accountEnabled"] is True
    status, body, _ = await run("extend", guest_id)
    assert status == 200 and body["expiresAt"]
    emulator.redeem(guest_id)
    status, body, _ = await run("reinvite", guest_id)
    assert status == 200 and body["inviteRedeemUrl"] and body["invitationState"] == "PendingAcceptance"
    assert emulator.user(guest_id)["externalUserState"] == "PendingAcceptance"
    assert emulator.count("POST /invitations") == 2


async def test_delete_and_restore_keep_group_memberships(live, emulator):
    from tests.support import GROUP_A
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "r@fabrikam.com", "groups": [GROUP_A]})
    guest_id = body["id"]
    status, body, _ = await run("delete", guest_id)
    assert status == 200 and body["state"] == "deleted" and emulator.user(guest_id)["deleted"] is True
    writes = emulator.writes()
    assert (await run("delete", guest_id))[0] == 200 and emulator.writes() == writes
    status, body, _ = await run("restore", guest_id)
    assert status == 200 and body["state"] == "invited"
    assert emulator.user(guest_id)["deleted"] is False and emulator.group_members(GROUP_A) == [guest_id]


async def test_restore_after_the_retention_window_is_refused(live, emulator):
    guest_id = await api.invite_id("old@fabrikam.com")
    await run("delete", guest_id)
    emulator.age_deletion(guest_id, 31)
    status, body, _ = await run("restore", guest_id)
    assert status in (404, 409) and body["error"]["code"] in ("GuestNotInDirectory", "NotRestorable")
    assert (await live.records.store.get(guest_id)).state.value == "deleted"


@pytest.mark.parametrize("operation", ["disable", "reinvite", "delete", "extend"])
async def test_member_is_refused_by_checking_graph(live, emulator, operation):
    guest_id = await api.invite_id(f"m-{operation}@fabrikam.com")
    emulator.update_user(guest_id, userType="Member")
    writes = emulator.writes()
    status, body, _ = await run(operation, guest_id)
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert emulator.writes() == writes
    assert (await live.records.store.get(guest_id)).state.value == "invited"


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_unknown_id_is_404(live, emulator, operation):
    status, body, _ = await run(operation, UNKNOWN)
    assert status == 404 and body["error"]["code"] == "GuestNotFound" and emulator.writes() == 0


async def test_untracked_user_is_adopted_only_by_invite(live, emulator):
    user = emulator.seed_user(displayName="Una", mail="una@fabrikam.com", userType="Guest",
                              externalUserState="Accepted")
    status, _, _ = await run("disable", user["id"])
    assert status == 404 and emulator.writes() == 0
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "una@fabrikam.com"})
    assert status == 200 and body["id"] == user["id"] and body["state"] == "active"
    assert (await run("disable", user["id"]))[0] == 200


async def test_concurrent_change_is_409_never_a_lost_update(live, emulator):
    import asyncio
    guest_id = await api.invite_id("race@fabrikam.com")
    results = await asyncio.gather(run("disable", guest_id), run("delete", guest_id))
    statuses = sorted(status for status, _, _ in results)
    final = await live.records.store.get(guest_id)
    assert statuses in ([200, 200], [200, 409]), statuses
    assert final.pending_action == "" and final.state.value in ("disabled", "deleted")

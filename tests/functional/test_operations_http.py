"""Lifecycle operations through func.HttpRequest with in-memory fakes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api_client import api, call


async def test_disable_then_repeat_is_idempotent(fakes):
    guest = await api.invite("op@fabrikam.com")
    status, body, _ = await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    assert status == 200 and body["state"] == "disabled" and body["disabledReason"] == "manual"
    user = fakes.directory.users[guest["id"]]
    assert user["accountEnabled"] is False and user["revokedAt"]
    writes = len(fakes.directory.writes)
    status, body, _ = await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    assert status == 200 and body["state"] == "disabled" and len(fakes.directory.writes) == writes
    assert [e.type for e in fakes.publisher.published].count("guest.disabled") == 1 and fakes.store.outbox == []


async def test_enable_after_disable(fakes):
    guest = await api.invite("op@fabrikam.com")
    await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    status, body, _ = await api.on_guest("enable_guest", "POST", guest["id"], "enable")
    assert status == 200 and body["state"] == "invited" and body["disabledAt"] is None
    assert fakes.directory.users[guest["id"]]["accountEnabled"] is True


async def test_extend_reenables_a_guest_disabled_by_expiry(fakes):
    guest = await api.invite("op@fabrikam.com")
    from lifecycle.domain.model import DisabledReason
    services = fakes.services
    await services.operations.run(services.operations.disabling(DisabledReason.EXPIRY), guest["id"], "test")
    target = (datetime.now(UTC) + timedelta(days=60)).replace(microsecond=0)
    status, body, _ = await api.on_guest("extend_guest", "POST", guest["id"], "extend",
                               {"expiresAt": target.isoformat()})
    assert status == 200 and body["state"] == "invited"
    assert body["expiresAt"] == target.isoformat().replace("+00:00", "Z")
    assert fakes.directory.users[guest["id"]]["accountEnabled"] is True
    status, _, _ = await api.on_guest("extend_guest", "POST", guest["id"], "extend", {"days": 0})
    assert status == 400
    status, _, _ = await api.on_guest("extend_guest", "POST", guest["id"], "extend",
                                      {"days": 5, "expiresAt": target.isoformat()})
    assert status == 400


async def test_extend_keeps_a_manually_disabled_guest_disabled(fakes):
    guest = await api.invite("op@fabrikam.com")
    await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    status, body, _ = await api.on_guest("extend_guest", "POST", guest["id"], "extend", {"days": 30})
    assert status == 200 and body["state"] == "disabled"


async def test_reinvite_returns_a_new_link(fakes):
    guest = await api.invite("op@fabrikam.com")
    fakes.directory.users[guest["id"]]["externalUserState"] = "Accepted"
    status, body, _ = await api.on_guest("reinvite_guest", "POST", guest["id"], "reinvite")
    assert status == 200 and body["inviteRedeemUrl"].endswith("/again")
    assert body["invitationState"] == "PendingAcceptance" and body["state"] == "invited"


async def test_delete_and_restore(fakes):
    guest = await api.invite("op@fabrikam.com")
    status, body, _ = await api.on_guest("delete_guest", "DELETE", guest["id"], "")
    assert status == 200 and body["state"] == "deleted" and guest["id"] in fakes.directory.deleted
    again = await api.on_guest("delete_guest", "DELETE", guest["id"], "")
    assert again[0] == 200 and fakes.directory.writes.count(("delete", guest["id"])) == 1
    status, body, _ = await api.on_guest("restore_guest", "POST", guest["id"], "restore")
    assert status == 200 and body["state"] == "invited" and guest["id"] in fakes.directory.users


@pytest.mark.parametrize("name,method,verb", [
    ("disable_guest", "POST", "disable"), ("enable_guest", "POST", "enable"),
    ("reinvite_guest", "POST", "reinvite"), ("delete_guest", "DELETE", ""),
])
async def test_members_are_refused_even_when_tracked(fakes, name, method, verb):
    guest = await api.invite("op@fabrikam.com")
    if verb == "enable":
        await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    fakes.directory.users[guest["id"]]["userType"] = "Member"
    writes = len(fakes.directory.writes)
    status, body, _ = await api.on_guest(name, method, guest["id"], verb)
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert len(fakes.directory.writes) == writes


async def test_unknown_guest_is_404_and_invalid_transition_is_409(fakes):
    status, _, _ = await api.on_guest("disable_guest", "POST", "6f1c1ef7-2b1e-4a3c-9d51-999999999999", "disable")
    assert status == 404
    guest = await api.invite("op@fabrikam.com")
    status, body, _ = await api.on_guest("enable_guest", "POST", guest["id"], "enable")
    assert status == 200  # enabling an enabled guest is a no-op
    await api.on_guest("delete_guest", "DELETE", guest["id"], "")
    status, body, _ = await api.on_guest("disable_guest", "POST", guest["id"], "disable")
    assert status == 409 and body["error"]["code"] == "InvalidStateTransition"


async def test_audit_entries_record_who_and_outcome(fakes, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    guest = await api.invite("op@fabrikam.com")
    await call("disable_guest", "POST", f"guests/{guest['id']}/disable", route={"id": guest["id"]},
               headers={"x-ms-client-principal-name": "logicapp-mi"})
    entry = [e for e in fakes.audit.entries if e.action == "guest.disable"][-1]
    assert entry.actor == "principal:logicapp-mi" and entry.outcome == "succeeded" and entry.target == guest["id"]


async def test_audit_reads_the_easy_auth_principal(fakes, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    import base64
    import json as _json
    guest = await api.invite("easy@fabrikam.com")
    principal = {"claims": [{"typ": "appid", "val": "logic-app-client"}, {"typ": "oid", "val": "1234"}]}
    encoded = base64.b64encode(_json.dumps(principal).encode()).decode()
    await call("disable_guest", "POST", f"guests/{guest['id']}/disable", route={"id": guest["id"]},
               headers={"x-ms-client-principal": encoded})
    entry = [e for e in fakes.audit.entries if e.action == "guest.disable"][-1]
    assert entry.actor == "principal:logic-app-client/1234"
    status, _, _ = await call("enable_guest", "POST", f"guests/{guest['id']}/enable", route={"id": guest["id"]},
                              headers={"x-ms-client-principal": "%%%not-base64"})
    assert status == 200 and fakes.audit.entries[-1].actor == "function-key"


async def test_principal_headers_are_ignored_without_platform_authentication(fakes, monkeypatch):
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    guest = await api.invite("spoof@fabrikam.com")
    await call("disable_guest", "POST", f"guests/{guest['id']}/disable", route={"id": guest["id"]},
               headers={"x-ms-client-principal-name": "someone-else"})
    assert fakes.audit.entries[-1].actor == "function-key"

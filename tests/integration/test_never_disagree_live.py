"""The record never says what Graph does not: changes made outside the app (an admin in the Entra portal, a
restore whose answer was lost) are picked up by operations and by the sweep's directory pass. Azurite, msgraph-sdk
over HTTP, the emulator changed behind the app's back through its Graph API and control routes."""
from __future__ import annotations

from datetime import UTC, timedelta

import httpx
import pytest

from lifecycle.domain.model import GuestState
from tests.api_client import api
from tests.builders import unlinked_claim
from tests.support import queued_events

pytestmark = pytest.mark.azurite


def restore_in_graph(emulator, guest_id: str) -> None:
    """What an admin's restore in the Entra portal does: Graph's own restore, not the app's."""
    with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer portal"}) as graph:
        graph.post(f"/directory/deletedItems/{guest_id}/restore").raise_for_status()


async def audit_kinds(live, guest_id: str) -> list[str]:
    return [e.details.get("found", "") for e in await live.audit.entries_for(guest_id) if e.action == "guest.refresh"]


async def test_delete_after_a_restore_outside_the_app_deletes_again_in_graph(live, emulator):
    guest_id = await api.invite_id("restored@fabrikam.com", expiresInDays=60)
    assert (await api.on_guest("delete_guest", "DELETE", guest_id))[0] == 200
    restore_in_graph(emulator, guest_id)
    deletes = emulator.count("DELETE /users/{id}")

    status, body, _ = await api.on_guest("delete_guest", "DELETE", guest_id)
    assert status == 200 and body["state"] == "deleted"
    assert emulator.count("DELETE /users/{id}") == deletes + 1 and emulator.user(guest_id)["deleted"] is True
    assert "restored outside the app" in await audit_kinds(live, guest_id)


async def test_disable_after_a_re_enable_outside_the_app_blocks_again(live, emulator):
    guest_id = await api.invite_id("reenabled@fabrikam.com", expiresInDays=60)
    assert (await api.on_guest("disable_guest", "POST", guest_id, "disable"))[0] == 200
    emulator.update_user(guest_id, accountEnabled=True)  # an admin unblocks sign-in in the portal

    status, body, _ = await api.on_guest("disable_guest", "POST", guest_id, "disable")
    assert status == 200 and body["state"] == "disabled" and emulator.user(guest_id)["accountEnabled"] is False
    assert "enabled outside the app" in await audit_kinds(live, guest_id)


async def test_enable_of_a_guest_blocked_outside_the_app_unblocks_it(live, emulator):
    guest_id = await api.invite_id("blocked@fabrikam.com", expiresInDays=60)
    emulator.update_user(guest_id, accountEnabled=False)
    status, body, _ = await api.on_guest("enable_guest", "POST", guest_id, "enable")
    assert status == 200 and body["state"] == "invited" and emulator.user(guest_id)["accountEnabled"] is True


async def test_the_sweep_brings_back_a_guest_restored_outside_the_app_with_an_event(live, emulator):
    guest_id = await api.invite_id("comeback@fabrikam.com", expiresInDays=60)
    assert (await api.on_guest("delete_guest", "DELETE", guest_id))[0] == 200
    restore_in_graph(emulator, guest_id)

    report = await live.expiry.run()
    assert report.refreshed.get("restored outside the app") == 1 and not report.failures, report
    record = await live.records.store.get(guest_id)
    assert record.state is GuestState.INVITED and record.deleted_at is None
    assert "restored outside the app" in await audit_kinds(live, guest_id)
    events = [m for m in emulator_events(live) if m.get("type") == "guest.restored"]
    assert events and events[-1]["data"]["guestId"] == guest_id


async def test_the_sweep_records_a_re_enable_outside_the_app_and_the_guest_expires_again_later(live, emulator):
    guest_id = await api.invite_id("unblocked@fabrikam.com", expiresInDays=60)
    assert (await api.on_guest("disable_guest", "POST", guest_id, "disable"))[0] == 200
    emulator.update_user(guest_id, accountEnabled=True)
    report = await live.expiry.run()
    assert report.refreshed.get("enabled outside the app") == 1, report
    record = await live.records.store.get(guest_id)
    assert record.state is GuestState.INVITED and record.expires_at is not None
    assert record.expires_at > record.updated_at + timedelta(days=50)  # its expiry still runs


def emulator_events(live) -> list[dict]:
    """The events on the queue (Azurite)."""
    return queued_events(live.settings.tables_connection_string, live.settings.events_queue)


async def test_guests_converted_to_members_after_the_pass_are_skipped_not_disabled(live, emulator, monkeypatch):
    ids = [await api.invite_id(f"convert{n}@fabrikam.com", expiresInDays=60) for n in range(6)]
    for guest_id in ids:
        record = await live.records.store.get(guest_id)
        await live.records.store.save(record.__class__(**{**record.__dict__, "expires_at": record.created_at}))
    converted = ids[:4]
    directory = live.directory
    scanned = directory.scan_guests

    async def scan_then_convert(*args, **kwargs):
        scan = await scanned(*args, **kwargs)
        for guest_id in converted:  # minutes later, an admin converts them to members
            emulator.update_user(guest_id, userType="Member")
        return scan

    monkeypatch.setattr(directory, "scan_guests", scan_then_convert)
    report = await live.expiry.run(override_guard=True)
    assert report.done == {"disable": 2}, report
    assert sorted(s["guestId"] for s in report.skipped) == sorted(converted)
    assert all("no longer a guest" in s["reason"] for s in report.skipped)
    for guest_id in converted:
        assert emulator.user(guest_id)["accountEnabled"] is True
        assert (await live.records.store.get(guest_id)).state is GuestState.INVITED


async def test_a_disable_graph_made_but_answered_502_is_recorded_from_reading_graph_back(live, emulator):
    guest_id = await api.invite_id("badgateway@fabrikam.com", expiresInDays=60)
    emulator.clear_calls()
    # Seed 22 at a fault rate of 0.5 draws: no fault (the read before acting), fault (the PATCH: made, then answered
    # 502), no fault (the read back). The revoke depending on the PATCH is answered 424 and never runs.
    emulator.configure(faultRate=0.5, faultStatuses=[502], faultPhase="after", seed=22)
    status, body, _ = await api.on_guest("disable_guest", "POST", guest_id, "disable")
    emulator.configure(faultRate=0)
    assert emulator.calls()["faults"] == 1
    assert status == 200 and body["state"] == "disabled" and emulator.user(guest_id)["accountEnabled"] is False
    status, body, _ = await api.on_guest("enable_guest", "POST", guest_id, "enable")
    assert status == 200 and body["state"] == "invited" and emulator.user(guest_id)["accountEnabled"] is True


async def test_a_disable_whose_outcome_graph_cannot_tell_keeps_its_intent_and_is_finished_first(live, emulator):
    guest_id = await api.invite_id("unknown@fabrikam.com", expiresInDays=60)
    # Seed 10 at a fault rate of 0.5 draws: no fault (the read before acting), fault (the PATCH: made, then answered
    # 502), fault (the read back: 502 too, so the outcome stays unknown).
    emulator.configure(faultRate=0.5, faultStatuses=[502], faultPhase="after", seed=10)
    status, body, _ = await api.on_guest("disable_guest", "POST", guest_id, "disable")
    emulator.configure(faultRate=0)
    assert status == 503 and body["error"]["code"] == "OutcomeUnknown", body
    assert (await live.records.store.get(guest_id)).pending_action == "disable:manual"
    assert emulator.user(guest_id)["accountEnabled"] is False  # Graph made it

    status, body, _ = await api.on_guest("enable_guest", "POST", guest_id, "enable")  # the disable is finished first
    assert status == 409 and body["error"]["details"][0]["resumed"] is True, body
    assert (await live.records.store.get(guest_id)).state is GuestState.DISABLED
    status, body, _ = await api.on_guest("enable_guest", "POST", guest_id, "enable")
    assert status == 200 and emulator.user(guest_id)["accountEnabled"] is True


async def test_an_invitation_whose_answer_was_lost_is_recorded_with_its_link_flagged_lost(live, emulator):
    from datetime import datetime

    user = emulator.seed_user(displayName="Lost", mail="lost@fabrikam.com", userType="Guest",
                              externalUserState="PendingAcceptance")  # invited, then the request died
    claim = unlinked_claim("lost@fabrikam.com", claimed_at=datetime(2001, 1, 1, tzinfo=UTC))
    await live.records.store.claim_email(claim)
    report = await live.expiry.run()
    assert report.repaired.get("claim adopted") == 1, report
    record = await live.records.store.get(user["id"])
    assert "redemption link was lost" in record.last_error and f"/api/guests/{user['id']}/reinvite" in record.last_error
    invited = [m for m in emulator_events(live) if m["type"] == "guest.invited" and m["data"]["guestId"] == user["id"]]
    assert invited and invited[-1]["data"]["redeemUrlLost"] is True and invited[-1]["data"]["inviteRedeemUrl"] is None


async def test_adoption_brings_back_a_guest_restored_outside_the_app_and_adopts_it_once(live, emulator):
    guest_id = await api.invite_id("adoptback@fabrikam.com", expiresInDays=60)
    assert (await api.on_guest("delete_guest", "DELETE", guest_id))[0] == 200
    restore_in_graph(emulator, guest_id)
    dry = (await live.adoption.adopt(actor="test", dry_run=True)).to_body()
    assert dry["alreadyTracked"] == 1 and dry["adopted"] == 0
    assert (await live.records.store.get(guest_id)).state is GuestState.DELETED  # a dry run writes nothing
    report = (await live.adoption.adopt(actor="test")).to_body()
    assert report["alreadyTracked"] == 1 and report["adopted"] == 0
    assert (await live.records.store.get(guest_id)).state is GuestState.INVITED
    assert "restored outside the app" in await audit_kinds(live, guest_id)

"""Group writes that finish pending work, from a GET poll or from the sweep's repair, are audited like any change."""
from __future__ import annotations

from tests.api_client import call
from tests.support import GROUP_B


async def invite_unreplicated(fakes, email: str) -> str:
    """Adopt a guest whom Graph does not show to member writes yet (replication lag): its group add stays pending."""
    user_id = fakes.directory.add_user(email)
    fakes.directory.unreplicated.add(user_id)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": email, "groups": [GROUP_B]})
    assert status == 202 and body["pendingGroups"] == [GROUP_B]
    return user_id


async def invite_with_pending_group(fakes) -> str:
    guest_id = await invite_unreplicated(fakes, "pending@fabrikam.com")
    fakes.directory.unreplicated.discard(guest_id)
    return guest_id


def finished_adds(fakes, guest_id: str) -> list[tuple[str, str, str]]:
    return [(e.actor, e.details["groupId"], e.outcome) for e in fakes.audit.entries
            if e.target == guest_id and e.action == "group.add" and e.details.get("finished")]


async def test_a_get_poll_that_adds_a_pending_group_audits_it(fakes):
    guest_id = await invite_with_pending_group(fakes)
    status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 200 and body["pendingGroups"] == [] and fakes.directory.groups[GROUP_B] == {guest_id}
    assert finished_adds(fakes, guest_id) == [("function-key", GROUP_B, "succeeded")]


async def test_the_sweep_repair_that_adds_a_pending_group_audits_it(fakes):
    guest_id = await invite_with_pending_group(fakes)
    report = await fakes.services.expiry.run()
    assert report.repaired.get("groups finished") == 1 and fakes.directory.groups[GROUP_B] == {guest_id}
    assert finished_adds(fakes, guest_id) == [("expiry-sweep", GROUP_B, "succeeded")]


async def test_a_poll_with_nothing_done_audits_nothing(fakes):
    guest_id = await invite_unreplicated(fakes, "still@fabrikam.com")
    before = len(fakes.audit.entries)
    status, _, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id})
    assert status == 202 and len(fakes.audit.entries) == before

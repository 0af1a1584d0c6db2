"""POST /api/adopt and GET /api/expiry/plan through func.HttpRequest, with in-memory fakes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lifecycle.domain.model import GuestState
from tests.api_client import call
from tests.rewire import with_settings
from tests.support import GROUP_A

MISSING_GROUP = "6f1c1ef7-2b1e-4a3c-9d51-0000000000c9"


def existing_guests(fakes, count: int, state: str = "Accepted") -> list[str]:
    ids = [fakes.directory.add_user(f"old{n}@partner.example", state=state) for n in range(count)]
    fakes.directory.add_user("staff@contoso.example", user_type="Member")
    return ids


async def test_adopt_dry_run_then_real_then_again(fakes):
    ids = existing_guests(fakes, 3)
    fakes.directory.users[ids[2]]["mail"] = ""
    fakes.directory.users[ids[2]]["otherMails"] = ["alt@partner.example"]
    status, dry, _ = await call("adopt_guests", "POST", "adopt", {"dryRun": True, "expiresInDays": 30})
    assert status == 200 and dry["dryRun"] and dry["adopted"] == 3 and fakes.store.guests == {}
    status, real, _ = await call("adopt_guests", "POST", "adopt", {"expiresInDays": 30})
    assert status == 200 and real == {"dryRun": False, "found": 3, "adopted": 3, "alreadyTracked": 0, "skipped": [],
                                      "guard": {"tripped": False, "message": ""}}
    assert fakes.store.guests[ids[2]].email == "alt@partner.example"
    assert all(g.state is GuestState.ACTIVE for g in fakes.store.guests.values())
    status, again, _ = await call("adopt_guests", "POST", "adopt", None)
    assert status == 200 and again["adopted"] == 0 and again["alreadyTracked"] == 3
    assert fakes.directory.writes == []
    published = [e.type for e in fakes.publisher.published]
    assert published.count("guest.adopted") == 3 and "guest.invited" not in published


@pytest.mark.parametrize("body", [{"expiresInDays": 0}, {"expiresInDays": "30"}, {"groupId": "not-a-guid"},
                                  {"dryRun": "yes"}, {"unknown": 1}, [1]])
async def test_adopt_refuses_bad_input_with_400(fakes, body):
    status, answer, _ = await call("adopt_guests", "POST", "adopt", body)
    assert status == 400 and answer["error"]["code"] == "InvalidRequest" and fakes.store.guests == {}


async def test_adopt_of_a_managed_group_the_directory_lacks_is_404(fakes):
    existing_guests(fakes, 1)
    del fakes.directory.groups[GROUP_A]
    status, answer, _ = await call("adopt_guests", "POST", "adopt", {"groupId": GROUP_A})
    assert status == 404 and answer["error"]["code"] == "GroupNotFound" and fakes.store.guests == {}


async def test_adopt_by_a_group_neither_managed_nor_excluded_is_403_before_graph_is_read(fakes):
    existing_guests(fakes, 1)
    fakes.directory.add_group(MISSING_GROUP)
    status, answer, _ = await call("adopt_guests", "POST", "adopt", {"groupId": MISSING_GROUP})
    assert status == 403 and answer["error"]["code"] == "GroupNotManaged"
    assert "MANAGED_GROUP_IDS" in answer["error"]["message"] and fakes.store.guests == {}
    assert fakes.directory.list_requests == 0


async def test_adopt_by_an_excluded_group_takes_its_guests_and_never_names_its_members(fakes):
    guest, other = existing_guests(fakes, 2)
    member = fakes.directory.add_user("boss@contoso.example", user_type="Member")
    fakes.directory.add_group(MISSING_GROUP)
    fakes.directory.groups[MISSING_GROUP] |= {guest, member}
    with_settings(fakes, EXPIRY_EXCLUDED_GROUP_IDS=MISSING_GROUP)
    status, report, _ = await call("adopt_guests", "POST", "adopt", {"groupId": MISSING_GROUP})
    assert status == 200 and report["adopted"] == 1 and report["found"] == 1 and report["skipped"] == []
    assert member not in str(report) and set(fakes.store.guests) == {guest}


async def test_adoption_skips_a_guest_whose_own_address_the_domain_lists_refuse(fakes):
    plain, listed, named = existing_guests(fakes, 3)
    fakes.directory.users[listed]["otherMails"] = ["old@blocked.example"]
    fakes.directory.users[named]["userPrincipalName"] = "ann_blocked.example#EXT#@tenant.onmicrosoft.com"
    with_settings(fakes, BLOCKED_EMAIL_DOMAINS="blocked.example")
    status, report, _ = await call("adopt_guests", "POST", "adopt", None)
    assert status == 200 and report["adopted"] == 1 and set(fakes.store.guests) == {plain}
    reasons = {skip["id"]: skip["reason"] for skip in report["skipped"]}
    assert set(reasons) == {listed, named}
    assert "old@blocked.example" in reasons[listed] and "ann@blocked.example" in reasons[named]
    assert "blocked" in reasons[named]


async def test_adoption_never_claims_a_members_address_a_guest_lists_in_other_mails(fakes):
    (guest,) = existing_guests(fakes, 1)
    fakes.directory.users[guest]["mail"] = ""
    fakes.directory.users[guest]["otherMails"] = ["staff@contoso.example"]  # the member's own address
    status, report, _ = await call("adopt_guests", "POST", "adopt", None)
    assert status == 200 and report["adopted"] == 0 and fakes.store.guests == {} and fakes.store.claims == {}
    assert report["skipped"] == [{"id": guest, "reason": "its address 'staff@contoso.example' (from otherMails) "
                                                          "belongs to a member of the directory"}]


async def test_plan_shape_and_it_writes_nothing(fakes):
    ids = existing_guests(fakes, 2)
    await call("adopt_guests", "POST", "adopt", {"expiresInDays": 1})
    fakes.clock.offset = timedelta(days=2)
    before, outbox, writes = dict(fakes.store.guests), list(fakes.store.outbox), list(fakes.directory.writes)
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    assert status == 200 and fakes.store.guests == before and fakes.store.outbox == outbox
    assert fakes.directory.writes == writes
    assert sorted(a["guestId"] for a in plan["actions"]) == sorted(ids)
    action = plan["actions"][0]
    assert set(action) == {"guestId", "email", "action", "reason", "since", "heldByGuard", "evidence"}
    assert action["heldByGuard"] is False and action["evidence"]["rule"] == "expired"
    assert plan["planId"] and plan["planId"] in fakes.runs.plans
    assert action["action"] == "disable" and action["reason"] == "expired"
    assert action["email"].endswith("@partner.example")
    assert plan["deferred"] == 0 and plan["guard"] == {"tripped": False, "message": ""}
    assert plan["inactivity"].startswith("off") and plan["excluded"] == []

"""Day two on in-memory fakes: a guest's history, the evidence of the sweep's actions, past runs, and a plan that an
admin reviews and approves (the mass-deletion guard's hold lifted once, never from stale data)."""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from click.testing import CliRunner

from lifecycle.cli import main
from tests.api_client import api, call
from tests.rewire import with_settings
from tests.support import GROUP_A, logged

KEY = "an-admins-function-key"
FINGERPRINT = "function-key:" + hashlib.sha256(KEY.encode()).hexdigest()[:12]


async def history(guest_id: str, **params) -> tuple[int, dict]:
    status, body, _ = await call("guest_history", "GET", f"guests/{guest_id}/history", route={"id": guest_id},
                                 params={k: str(v) for k, v in params.items()})
    return status, body


# --- history ------------------------------------------------------------------------------------------------------
async def test_history_lists_every_entry_newest_first_with_the_key_that_called(fakes):
    guest_id = await api.invite_id("hist@fabrikam.com", expiresInDays=30)
    await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id},
               headers={"x-functions-key": KEY})
    await call("enable_guest", "POST", f"guests/{guest_id}/enable", route={"id": guest_id},
               params={"code": KEY})
    status, page = await history(guest_id)
    assert status == 200 and [e["action"] for e in page["value"]][:3] == ["guest.enable", "guest.disable",
                                                                            "guest.invite"]
    assert page["value"][0]["actor"] == FINGERPRINT == page["value"][1]["actor"]
    assert KEY not in str(page)
    stamps = [datetime.fromisoformat(e["at"]) for e in page["value"]]
    assert stamps == sorted(stamps, reverse=True)
    first = await history(guest_id, pageSize=1)
    second = await history(guest_id, pageSize=1, continuationToken=first[1]["continuationToken"])
    assert first[1]["value"][0] == page["value"][0] and second[1]["value"][0] == page["value"][1]


async def test_history_of_an_unknown_guest_is_404_and_a_bad_token_400(fakes):
    status, body = await history("6f1c1ef7-2b1e-4a3c-9d51-999999999999")
    assert status == 404 and body["error"]["code"] == "GuestNotFound"
    guest_id = await api.invite_id("tok@fabrikam.com", expiresInDays=30)
    assert (await history(guest_id, continuationToken="forged"))[0] == 400


def test_the_history_command_finds_a_guest_by_email(fakes):
    import asyncio

    asyncio.run(api.invite_id("cli@fabrikam.com", expiresInDays=30))
    result = CliRunner().invoke(main, ["history", "CLI@fabrikam.com", "--json"])
    assert result.exit_code == 0, result.output
    assert '"action": "guest.invite"' in result.output
    missing = CliRunner().invoke(main, ["history", "nobody@fabrikam.com"])
    assert missing.exit_code != 0 and "no audit entry" in missing.output


# --- evidence and runs --------------------------------------------------------------------------------------------
async def test_the_sweeps_entries_carry_the_rule_the_dates_the_policy_and_the_run(fakes):
    guest_id = await api.invite_id("ev@fabrikam.com", expiresInDays=1)
    fakes.clock.offset = timedelta(days=2)
    report = await fakes.services.expiry.run(trigger="timer")
    [entry] = [e for e in fakes.audit.entries if e.action == "guest.disable"]
    evidence = entry.details["evidence"]
    assert entry.actor == "expiry-sweep" and evidence["rule"] == "expired" and evidence["runId"] == report.run_id
    assert evidence["dates"]["expiresAt"] == fakes.store.guests[guest_id].expires_at.isoformat()
    assert evidence["policy"]["EXPIRY_GRACE_DAYS"] == 30 and evidence["policy"]["INACTIVITY_DAYS"] == 0
    status, page = await history(guest_id)
    assert page["value"][0]["details"]["evidence"]["rule"] == "expired"


async def test_every_sweep_is_a_run_with_its_lines_newest_first(fakes):
    guest_id = await api.invite_id("run@fabrikam.com", expiresInDays=1)
    fakes.clock.offset = timedelta(days=2)
    dry = await fakes.services.expiry.run(dry_run=True)
    fakes.clock.offset = timedelta(days=2, minutes=1)
    real = await fakes.services.expiry.run(trigger="timer")
    status, page, _ = await call("list_runs", "GET", "expiry/runs")
    assert status == 200 and [r["runId"] for r in page["value"]] == [real.run_id, dry.run_id]
    assert [(r["trigger"], r["outcome"], r["dryRun"]) for r in page["value"]] == [("timer", "succeeded", False),
                                                                                 ("cli", "dry-run", True)]
    status, run, _ = await call("get_run", "GET", f"expiry/runs/{real.run_id}", route={"runId": real.run_id})
    assert status == 200 and run["lines"] == [{"guestId": guest_id, "email": "run@fabrikam.com", "action": "disable",
                                               "reason": "expired", "since": run["lines"][0]["since"],
                                               "outcome": "done", "detail": "", "heldByGuard": None}]
    status, dry_run, _ = await call("get_run", "GET", f"expiry/runs/{dry.run_id}", route={"runId": dry.run_id})
    assert dry_run["lines"][0]["outcome"] == "planned (dry run)"
    status, body, _ = await call("get_run", "GET", "expiry/runs/nope", route={"runId": "nope"})
    assert status == 400


def test_the_runs_command_lists_runs_and_shows_one(fakes):
    import asyncio

    guest_id = asyncio.run(api.invite_id("cliruns@fabrikam.com", expiresInDays=1))
    fakes.clock.offset = timedelta(days=2)
    real = asyncio.run(fakes.services.expiry.run(trigger="timer"))
    listed = CliRunner().invoke(main, ["runs"])
    assert listed.exit_code == 0 and real.run_id in listed.output and "timer" in listed.output
    shown = CliRunner().invoke(main, ["runs", real.run_id])
    assert shown.exit_code == 0 and f"{guest_id} <cliruns@fabrikam.com> disable (expired) done" in shown.output


async def test_old_runs_are_removed_by_the_sweeps_housekeeping(fakes):
    first = await fakes.services.expiry.run(trigger="timer")
    fakes.clock.offset = timedelta(days=401)
    later = await fakes.services.expiry.run(trigger="timer")
    assert set(fakes.runs.runs_by_id) == {later.run_id} and first.run_id != later.run_id
    assert later.repaired.get("old runs and plans removed") == 1


# --- a plan an admin approves -------------------------------------------------------------------------------------
async def guarded_world(fakes) -> tuple[list[str], str]:
    """Four guests past expiry out of six tracked (the guard trips over 50% and 2), one expiring soon."""
    with_settings(fakes, EXPIRY_GUARD_MIN="2", EXPIRY_GUARD_PERCENT="50")
    due = [await api.invite_id(f"due{n}@fabrikam.com", expiresInDays=1) for n in range(4)]
    await api.invite_id("later@fabrikam.com", expiresInDays=300)
    soon = await api.invite_id("soon@fabrikam.com", expiresInDays=10)
    fakes.clock.offset = timedelta(days=2)
    return due, soon


async def test_a_tripped_guard_still_lists_every_guest_held_and_names_itself(fakes):
    due, soon = await guarded_world(fakes)
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    assert status == 200 and plan["guard"]["tripped"] and plan["guard"]["message"].startswith("mass-deletion guard")
    held = {a["guestId"] for a in plan["actions"] if a["heldByGuard"]}
    assert held == set(due) and all(a["action"] == "disable" for a in plan["actions"] if a["heldByGuard"])
    assert [(a["guestId"], a["action"], a["heldByGuard"]) for a in plan["actions"] if not a["heldByGuard"]] == [
        (soon, "notify", False)]
    report = await fakes.services.expiry.run()
    assert report.guard_tripped and report.done == {"notify": 1} and report.held == 4  # notices are never held back
    assert "guest.expiring" in [e.type for e in fakes.publisher.published]


async def test_approving_runs_the_held_actions_once_and_skips_a_guest_changed_since(fakes):
    due, _ = await guarded_world(fakes)
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    changed = due[0]
    await call("extend_guest", "POST", f"guests/{changed}/extend", {"days": 30}, route={"id": changed})
    path, route = f"expiry/plan/{plan['planId']}/approve", {"planId": plan["planId"]}
    status, body, _ = await call("approve_plan", "POST", path, {}, route=route)
    assert status == 400  # a reason is required
    status, report, _ = await call("approve_plan", "POST", path, {"reason": "reviewed with HR"}, route=route,
                                   headers={"x-functions-key": KEY})
    assert status == 200, report
    outcomes = {line["guestId"]: line["outcome"] for line in report["lines"] if line["action"] == "disable"}
    assert outcomes[changed] == "skipped" and all(outcomes[g] == "done" for g in due[1:])
    assert fakes.store.guests[changed].state.value == "invited"  # extended since the plan: never acted on
    assert all(fakes.store.guests[g].state.value == "disabled" for g in due[1:])
    [entry] = [e for e in fakes.audit.entries if e.action == "guest.disable" and e.target == due[1]]
    assert entry.actor == FINGERPRINT and entry.details["evidence"]["approvalReason"] == "reviewed with HR"
    assert entry.details["evidence"]["planId"] == plan["planId"] and entry.details["evidence"]["rule"] == "expired"
    approvals = [e for e in fakes.audit.entries if e.action == "expiry.plan.approve"]
    assert len(approvals) == 1 and approvals[0].details["reason"] == "reviewed with HR"
    writes = list(fakes.directory.writes)
    status, again, _ = await call("approve_plan", "POST", path, {"reason": "twice"}, route=route)
    assert status == 409 and again["error"]["code"] == "PlanAlreadyApproved" and fakes.directory.writes == writes
    status, page, _ = await call("list_runs", "GET", "expiry/runs")
    assert page["value"][0]["trigger"] == "approved-plan" and page["value"][0]["runId"] == report["runId"]


async def test_a_stale_plan_an_unknown_plan_and_the_emergency_stop_are_refused(fakes):
    await guarded_world(fakes)
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    path, route = f"expiry/plan/{plan['planId']}/approve", {"planId": plan["planId"]}
    fakes.clock.offset += timedelta(hours=25)
    writes = list(fakes.directory.writes)
    status, body, _ = await call("approve_plan", "POST", path, {"reason": "too late"}, route=route)
    assert status == 410 and body["error"]["code"] == "PlanExpired" and "GET /api/expiry/plan" in body["error"][
        "message"]
    assert fakes.directory.writes == writes
    unknown = "20260101T000000000000Z-00000000"
    status, body, _ = await call("approve_plan", "POST", f"expiry/plan/{unknown}/approve", {"reason": "x" * 5},
                                 route={"planId": unknown})
    assert status == 404 and body["error"]["code"] == "PlanNotFound"
    with_settings(fakes, EXPIRY_GUARD_MIN="2", EXPIRY_GUARD_PERCENT="50", EXPIRY_DRY_RUN="true")
    status, fresh, _ = await call("expiry_plan", "GET", "expiry/plan")
    status, body, _ = await call("approve_plan", "POST", f"expiry/plan/{fresh['planId']}/approve",
                                 {"reason": "during the stop"}, route={"planId": fresh["planId"]})
    assert status == 409 and body["error"]["code"] == "EmergencyStop" and fakes.directory.writes == writes


# --- no silent loss of access -------------------------------------------------------------------------------------
async def test_extend_by_days_counts_from_the_later_of_now_and_the_current_expiry(fakes):
    guest_id = await api.invite_id("ext@fabrikam.com", expiresInDays=30)
    before = fakes.store.guests[guest_id].expires_at
    status, body, _ = await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"days": 10},
                                 route={"id": guest_id})
    assert status == 200 and datetime.fromisoformat(body["expiresAt"]) == before + timedelta(days=10)


async def test_a_second_invite_never_shortens_and_says_what_it_ignored(fakes):
    guest_id = await api.invite_id("twice@fabrikam.com", expiresInDays=90, displayName="First Name")
    before = fakes.store.guests[guest_id]
    status, body, _ = await call("invite_guest", "POST", "guests",
                                 {"email": "twice@fabrikam.com", "expiresInDays": 5, "displayName": "Other",
                                  "groups": [GROUP_A]})
    assert status in (200, 202) and body["id"] == guest_id
    assert datetime.fromisoformat(body["expiresAt"]) == before.expires_at and body["displayName"] == "First Name"
    assert set(body["ignoredFields"]) == {"displayName", "expiresAt/expiresInDays"}
    assert GROUP_A in body["groups"] + body["pendingGroups"]
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "twice@fabrikam.com",
                                                                     "expiresInDays": 365})
    assert datetime.fromisoformat(body["expiresAt"]) > before.expires_at and "ignoredFields" not in body


# --- events a flow can use ----------------------------------------------------------------------------------------
def events_of(fakes, kind: str) -> list:
    return [e for e in fakes.publisher.published if e.type == kind]


async def test_disabled_events_carry_the_reason_and_when_the_delete_follows(fakes):
    by_hand = await api.invite_id("hand@fabrikam.com", expiresInDays=30)
    await call("disable_guest", "POST", f"guests/{by_hand}/disable", route={"id": by_hand})
    [manual] = events_of(fakes, "guest.disabled")
    assert manual.data["reason"] == "manual" and manual.data["deleteAfter"] is None
    expiring = await api.invite_id("exp@fabrikam.com", expiresInDays=1)
    fakes.clock.offset = timedelta(days=2)
    await fakes.services.expiry.run()
    [swept] = [e for e in events_of(fakes, "guest.disabled") if e.guest_id == expiring]
    disabled_at = fakes.store.guests[expiring].disabled_at
    assert swept.data["reason"] == "expiry"
    assert swept.data["deleteAfter"] == (disabled_at + timedelta(days=30)).isoformat()


async def test_reinvited_purged_and_group_events(fakes):
    guest_id = await api.invite_id("re@fabrikam.com", expiresInDays=30, groups=[GROUP_A])
    [added] = events_of(fakes, "guest.group-added")
    assert added.data["groupIds"] == [GROUP_A]
    status, body, _ = await call("reinvite_guest", "POST", f"guests/{guest_id}/reinvite", None, route={"id": guest_id})
    [reinvited] = events_of(fakes, "guest.reinvited")
    assert reinvited.data["inviteRedeemUrl"] == body["inviteRedeemUrl"] and body["inviteRedeemUrl"]
    await call("remove_guest_from_group", "DELETE", f"guests/{guest_id}/groups/{GROUP_A}",
               route={"id": guest_id, "groupId": GROUP_A})
    assert events_of(fakes, "guest.group-removed")[0].data["groupIds"] == [GROUP_A]
    await call("delete_guest", "DELETE", f"guests/{guest_id}", route={"id": guest_id})
    fakes.clock.offset = timedelta(days=31)
    await fakes.services.expiry.run()
    assert [e.guest_id for e in events_of(fakes, "guest.purged")] == [guest_id]


async def test_events_of_a_guest_without_a_sponsor_name_the_fallback(fakes):
    with_settings(fakes, LIFECYCLE_FALLBACK_NOTIFY="Guest-Owners@Contoso.com")
    await api.invite_id("alone@fabrikam.com", expiresInDays=30)
    [invited] = events_of(fakes, "guest.invited")
    assert invited.data["sponsors"] == [] and invited.data["fallbackNotify"] == "guest-owners@contoso.com"


# --- each request logged once -------------------------------------------------------------------------------------
async def test_each_request_is_logged_once_without_the_key_or_an_email(fakes, caplog):
    guest_id = await api.invite_id("log@fabrikam.com", expiresInDays=30)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lifecycle.http"):
        await call("guest_history", "GET", f"guests/{guest_id}/history", route={"id": guest_id},
                   params={"code": KEY})
    (entry,) = [entry for entry in logged(caplog.records) if entry["event"] == "HttpRequest"]
    assert {"method": "GET", "route": "/api/guests/{id}/history", "status": 200}.items() <= entry.items()
    line = json.dumps(entry)
    assert KEY not in line and "log@fabrikam.com" not in line and guest_id not in line

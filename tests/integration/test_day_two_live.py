"""Day two on Azurite and the Graph emulator: a guest's history newest first, runs stored with their lines, and a
plan approved once (a guest changed since the plan skipped, a stale plan refused, a second approval running
nothing)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lifecycle.config import Settings, Tuning
from lifecycle.wiring import build_services, container
from tests.api_client import api, call
from tests.support import SetClock

pytestmark = pytest.mark.azurite


@pytest.fixture
async def world(live_env, emulator):
    clock = SetClock()
    settings = Settings.from_env({**live_env, "EXPIRY_GUARD_MIN": "2", "EXPIRY_GUARD_PERCENT": "50"})
    services = build_services(settings, clock=clock, tuning=Tuning(lag_retry_seconds=2.0, lag_first_delay=0.1))
    container.use(lambda: services)
    yield clock, services
    await services.close()
    container.reset()


async def test_history_runs_and_an_approved_plan_on_real_storage(world):
    clock, services = world
    due = [await api.invite_id(f"live-due{n}@fabrikam.com", expiresInDays=1) for n in range(4)]
    await api.invite_id("live-later@fabrikam.com", expiresInDays=300)
    await api.invite_id("live-later2@fabrikam.com", expiresInDays=300)
    clock.now += timedelta(days=2)

    swept = await services.expiry.run(trigger="timer")
    assert swept.guard_tripped and swept.held == 4 and swept.done == {}
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    assert status == 200 and sorted(a["guestId"] for a in plan["actions"] if a["heldByGuard"]) == sorted(due)

    clock.now += timedelta(minutes=5)
    changed = due[0]
    status, _, _ = await call("extend_guest", "POST", f"guests/{changed}/extend", {"days": 5}, route={"id": changed})
    assert status == 200
    path, route = f"expiry/plan/{plan['planId']}/approve", {"planId": plan["planId"]}
    status, report, _ = await call("approve_plan", "POST", path, {"reason": "quarterly review"}, route=route)
    assert status == 200, report
    outcomes = {line["guestId"]: line["outcome"] for line in report["lines"]}
    assert outcomes[changed] == "skipped" and [outcomes[g] for g in due[1:]] == ["done"] * 3
    assert report["stored"] is True
    status, again, _ = await call("approve_plan", "POST", path, {"reason": "again"}, route=route)
    assert status == 409 and again["error"]["code"] == "PlanAlreadyApproved"

    status, runs, _ = await call("list_runs", "GET", "expiry/runs", params={"pageSize": "1"})
    assert status == 200 and runs["value"][0]["runId"] == report["runId"] and runs["continuationToken"]
    status, older, _ = await call("list_runs", "GET", "expiry/runs",
                                  params={"pageSize": "1", "continuationToken": runs["continuationToken"]})
    assert older["value"][0]["runId"] == swept.run_id and older["value"][0]["outcome"] == "guard-tripped"
    status, run, _ = await call("get_run", "GET", f"expiry/runs/{swept.run_id}", route={"runId": swept.run_id})
    assert sorted(line["guestId"] for line in run["lines"] if line["outcome"].startswith("held")) == sorted(due)

    status, history, _ = await call("guest_history", "GET", f"guests/{due[1]}/history", route={"id": due[1]},
                                    params={"pageSize": "1"})
    assert status == 200 and history["value"][0]["action"] == "guest.disable"
    assert history["value"][0]["details"]["evidence"]["approvalReason"] == "quarterly review"
    assert history["value"][0]["graphRequestIds"]
    status, rest, _ = await call("guest_history", "GET", f"guests/{due[1]}/history", route={"id": due[1]},
                                 params={"continuationToken": history["continuationToken"]})
    assert [e["action"] for e in rest["value"]][-1] == "guest.invite"


async def test_a_plan_past_its_age_is_refused_on_real_storage(world):
    clock, services = world
    await api.invite_id("live-stale@fabrikam.com", expiresInDays=1)
    clock.now += timedelta(days=2)
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    clock.now += timedelta(hours=24, minutes=1)
    status, body, _ = await call("approve_plan", "POST", f"expiry/plan/{plan['planId']}/approve",
                                 {"reason": "late review"}, route={"planId": plan["planId"]})
    assert status == 410 and body["error"]["code"] == "PlanExpired"

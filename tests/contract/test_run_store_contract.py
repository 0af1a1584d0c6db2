"""RunStore contract: the in-memory store and the Table store (Azurite) keep runs and plans the same way: newest
first, lines however many (a big run's lines span several rows within Table Storage's limits), a plan approved once,
old runs and plans purged."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.domain.runs import new_id
from lifecycle.errors import ConcurrencyConflict, InvalidRequest
from lifecycle.ports import RunRecord, StoredPlan

T0 = datetime(2026, 5, 1, 3, tzinfo=UTC)


def run(at: datetime, lines: int = 2, **changes) -> RunRecord:
    base = RunRecord(run_id=new_id(at), trigger="timer", started_at=at, finished_at=at + timedelta(seconds=5),
                     dry_run=False, outcome="succeeded", actor="expiry-sweep",
                     report={"done": {"disable": lines}, "counts": {"failures": 0}},
                     lines=tuple({"guestId": f"g{n}", "email": f"g{n}@fabrikam.com", "action": "disable",
                                  "outcome": "done", "detail": "x" * 200} for n in range(lines)))
    return replace(base, **changes)


async def test_runs_page_newest_first_without_their_lines(runs):
    saved = [run(T0 + timedelta(days=n)) for n in range(5)]
    for item in saved:
        await runs.save_run(item)
    first = await runs.runs(3)
    second = await runs.runs(3, first.continuation_token)
    assert [r.run_id for r in first.runs + second.runs] == [r.run_id for r in reversed(saved)]
    assert second.continuation_token is None and all(r.lines == () for r in first.runs)
    assert first.runs[0].report == saved[-1].report and first.runs[0].started_at == saved[-1].started_at


async def test_a_big_runs_lines_come_back_whole_and_in_order(runs):
    big = run(T0, lines=900)  # about 250 000 characters of lines: several rows, more than one property could hold
    await runs.save_run(big)
    read = await runs.get_run(big.run_id)
    assert read is not None and read.lines == big.lines and read.outcome == "succeeded"


async def test_an_unknown_run_is_none_and_a_foreign_token_is_refused(runs):
    assert await runs.get_run(new_id(T0)) is None
    with pytest.raises(InvalidRequest):
        await runs.runs(5, "not-a-token")


async def test_a_plan_is_approved_once(runs):
    plan = StoredPlan(plan_id=new_id(T0), created_at=T0, created_by="function-key", summary={"deferred": 0},
                      actions=tuple({"guestId": f"g{n}", "action": "disable", "etag": f"e{n}"} for n in range(300)))
    saved = await runs.save_plan(plan)
    read = await runs.get_plan(plan.plan_id)
    assert read is not None and read.actions == plan.actions and not read.approved
    approved = await runs.mark_approved(replace(read, approved_by="admin", approved_at=T0, reason="ok", run_id="r"))
    assert approved.etag != read.etag
    with pytest.raises(ConcurrencyConflict):  # a second approval made from the same read loses
        await runs.mark_approved(replace(saved, approved_by="other", approved_at=T0, reason="again"))
    again = await runs.get_plan(plan.plan_id)
    assert again is not None and again.approved and again.approved_by == "admin" and again.actions == plan.actions


async def test_purge_removes_old_runs_and_plans_with_their_lines(runs):
    old, recent = run(T0 - timedelta(days=500), lines=400), run(T0)
    await runs.save_run(old)
    await runs.save_run(recent)
    old_plan = StoredPlan(plan_id=new_id(T0 - timedelta(days=3)), created_at=T0 - timedelta(days=3), created_by="k",
                          summary={}, actions=({"guestId": "g"},))
    new_plan = StoredPlan(plan_id=new_id(T0), created_at=T0, created_by="k", summary={})
    await runs.save_plan(old_plan)
    await runs.save_plan(new_plan)
    removed = await runs.purge(T0 - timedelta(days=400), T0 - timedelta(days=2), 100)
    assert removed == 2
    assert await runs.get_run(old.run_id) is None and await runs.get_run(recent.run_id) is not None
    assert await runs.get_plan(old_plan.plan_id) is None and await runs.get_plan(new_plan.plan_id) is not None
    assert [r.run_id for r in (await runs.runs(10)).runs] == [recent.run_id]

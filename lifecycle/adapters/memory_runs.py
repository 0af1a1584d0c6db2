"""RunStore in memory, with the same rules as the Table adapter (tests/contract/test_run_store_contract.py)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from lifecycle.errors import ConcurrencyConflict, InvalidRequest
from lifecycle.ports import RunPage, RunRecord, StoredPlan

if TYPE_CHECKING:
    from lifecycle.ports import RunStore

_TOKEN_PREFIX = "runs:"


class InMemoryRunStore:
    def __init__(self) -> None:
        self.runs_by_id: dict[str, RunRecord] = {}
        self.plans: dict[str, StoredPlan] = {}

    async def save_run(self, run: RunRecord) -> None:
        self.runs_by_id[run.run_id] = run

    async def runs(self, page_size: int, continuation_token: str | None = None) -> RunPage:
        newest = sorted(self.runs_by_id.values(), key=lambda r: (r.started_at, r.run_id), reverse=True)
        start = 0
        if continuation_token:
            number = continuation_token.removeprefix(_TOKEN_PREFIX)
            if number == continuation_token or not number.isdigit():
                raise InvalidRequest("continuationToken is not valid")
            start = int(number)
        end = start + page_size
        page = [replace(run, lines=()) for run in newest[start:end]]
        return RunPage(page, f"{_TOKEN_PREFIX}{end}" if end < len(newest) else None)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return self.runs_by_id.get(run_id)

    async def save_plan(self, plan: StoredPlan) -> StoredPlan:
        if plan.plan_id in self.plans:
            raise ConcurrencyConflict("the plan exists already")
        self.plans[plan.plan_id] = replace(plan, etag=uuid.uuid4().hex)
        return self.plans[plan.plan_id]

    async def get_plan(self, plan_id: str) -> StoredPlan | None:
        return self.plans.get(plan_id)

    async def mark_approved(self, plan: StoredPlan) -> StoredPlan:
        current = self.plans.get(plan.plan_id)
        if current is None or current.etag != plan.etag:
            raise ConcurrencyConflict("the plan changed (approved by another request)")
        self.plans[plan.plan_id] = replace(plan, actions=current.actions, etag=uuid.uuid4().hex)
        return self.plans[plan.plan_id]

    async def purge(self, runs_before: datetime, plans_before: datetime, limit: int) -> int:
        old_runs = sorted((r for r in self.runs_by_id.values() if r.started_at < runs_before),
                          key=lambda r: r.started_at)[:limit]
        for run in old_runs:
            del self.runs_by_id[run.run_id]
        old_plans = [p for p in self.plans.values() if p.created_at < plans_before][:limit - len(old_runs)]
        for plan in old_plans:
            del self.plans[plan.plan_id]
        return len(old_runs) + len(old_plans)


if TYPE_CHECKING:
    _runs: RunStore = InMemoryRunStore()

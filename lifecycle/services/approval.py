"""A plan an admin reviews and approves. GET /api/expiry/plan stores the plan it answers (each action with the ETag
of the record it was made from); POST /api/expiry/plan/{planId}/approve runs exactly those actions, once, the
mass-deletion guard's hold lifted by the approval: a guest whose record changed since is skipped and reported, never
acted on from stale data. A plan older than EXPIRY_PLAN_MAX_AGE_HOURS cannot be approved (410), a second approval
runs nothing (409), and none runs while EXPIRY_DRY_RUN (the emergency stop) is on (409)."""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from lifecycle.config import Settings
from lifecycle.domain.planning import Action, ActionKind, Reason
from lifecycle.domain.runs import new_id
from lifecycle.errors import ConcurrencyConflict, Conflict, Gone, LifecycleError, NotFound
from lifecycle.ports import RunRecord, RunStore, StoredPlan
from lifecycle.services.acting import operation_for, send_notice
from lifecycle.services.audit import Audit
from lifecycle.services.evidence import policy_numbers
from lifecycle.services.operations import GuestOperations
from lifecycle.services.records import GuestRecords
from lifecycle.services.run_record import RunRecorder, log_report
from lifecycle.services.sweep import ExpirySweep, describe_plan, evidence_for

CHANGED = ("the guest's record changed since the plan was made (not the version the plan was made from): nothing "
           "done; make a new plan (GET /api/expiry/plan) to see what is due now")


class PlanApprovals:
    def __init__(self, *, records: GuestRecords, audit: Audit, operations: GuestOperations, expiry: ExpirySweep,
                 store: RunStore, recorder: RunRecorder, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._audit = audit
        self._operations = operations
        self._expiry = expiry
        self._store = store
        self._recorder = recorder
        self._settings = settings
        self._clock = clock

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self._settings.expiry_plan_max_age_hours)

    async def publish(self, actor: str) -> dict[str, Any]:
        """The next sweep's plan (`ExpirySweep.plan`), stored for approval; as GET /api/expiry/plan answers it."""
        plan, survey = await self._expiry.plan()
        now = self._clock()
        plan_id = new_id(now)
        policy = self._expiry.policy(True, False)
        body = describe_plan(plan, survey, evidence_for(survey, policy, plan_id))
        etags = {g.id: g.etag for g in survey.guests}
        due = {(a.guest_id, a.kind.value): a.due_at.isoformat() for a in plan.actions + plan.held}
        actions = tuple({**a, "etag": etags.get(a["guestId"]), "dueAt": due[(a["guestId"], a["action"])]}
                        for a in body["actions"])
        summary = {"guard": body["guard"], "deferred": body["deferred"], "excluded": len(body["excluded"]),
                   "policy": policy_numbers(policy)}
        await self._store.save_plan(StoredPlan(plan_id=plan_id, created_at=now, created_by=actor, summary=summary,
                                               actions=actions))
        return {"planId": plan_id, "createdAt": now.isoformat(),
                "approvableUntil": (now + self.max_age).isoformat(), **body}

    async def approve(self, plan_id: str, actor: str, reason: str) -> dict[str, Any]:
        """Run the plan's actions once, in `actor`'s name, audited with `reason`."""
        stored = await self._store.get_plan(plan_id)
        if stored is None:
            raise NotFound(f"no plan with id '{plan_id}'", code="PlanNotFound")
        if stored.approved:
            raise self._already(stored)
        now = self._clock()
        if now - stored.created_at > self.max_age:
            raise Gone(f"the plan was made at {stored.created_at.isoformat()}, more than "
                       f"{self._settings.expiry_plan_max_age_hours} hours ago (EXPIRY_PLAN_MAX_AGE_HOURS): what it "
                       "says may no longer hold; make a new plan (GET /api/expiry/plan), review it and approve that "
                       "one",
                       code="PlanExpired")
        if self._settings.expiry_dry_run:
            raise Conflict("EXPIRY_DRY_RUN is on (the emergency stop): nothing is enforced, approved plans included; "
                           "turn it off, then approve a fresh plan", code="EmergencyStop")
        run_id = new_id(now)
        try:
            claimed = await self._store.mark_approved(replace(stored, approved_by=actor, approved_at=now,
                                                              reason=reason, run_id=run_id))
        except ConcurrencyConflict:
            raise self._already(await self._store.get_plan(plan_id) or stored) from None
        async with self._audit.audited(actor, "expiry.plan.approve", plan_id, reason=reason, runId=run_id,
                                       actions=len(claimed.actions)) as notes:
            lines = await self._run(claimed, actor, reason, run_id, now)
            notes["outcomes"] = dict(Counter(line["outcome"] for line in lines))
        return await self._record(claimed, lines, actor, reason, run_id, now)

    @staticmethod
    def _already(plan: StoredPlan) -> Conflict:
        when = plan.approved_at.isoformat() if plan.approved_at else "just now"
        return Conflict(f"the plan was approved already, by {plan.approved_by or 'another request'} at {when} (run "
                        f"{plan.run_id or 'under way'}); nothing was run again", code="PlanAlreadyApproved",
                        details=[{"runId": plan.run_id, "approvedBy": plan.approved_by}])

    async def _run(self, plan: StoredPlan, actor: str, reason: str, run_id: str, now: datetime) -> list[dict[str, Any]]:
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 2)
        approval = {"approvedBy": actor, "approvalReason": reason, "planId": plan.plan_id, "runId": run_id}

        async def one(planned: dict[str, Any]) -> dict[str, Any]:
            async with slots:
                outcome, detail = await self._act(planned, actor, {**planned.get("evidence", {}), **approval}, now)
            return {key: planned.get(key) for key in ("guestId", "email", "action", "reason", "since")} | {
                "heldByGuard": bool(planned.get("heldByGuard")), "outcome": outcome, "detail": detail[:500]}

        by_guest: dict[str, list[dict[str, Any]]] = {}
        for planned in plan.actions:
            by_guest.setdefault(planned["guestId"], []).append(planned)

        async def in_order(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
            lines = [await one(actions[0])]
            for planned in actions[1:]:  # a later action of the same guest was planned on the record before the first
                lines.append({**lines[0], **{k: planned.get(k) for k in ("action", "reason", "since")},
                              "outcome": "skipped", "detail": "planned after another action of this guest: " + CHANGED})
            return lines

        found = await asyncio.gather(*(in_order(actions) for actions in by_guest.values()))
        return [line for lines in found for line in lines]

    async def _act(self, planned: dict[str, Any], actor: str, why: dict[str, Any], now: datetime) -> tuple[str, str]:
        try:
            action = Action(ActionKind(planned["action"]), planned["guestId"], Reason(planned["reason"]),
                            datetime.fromisoformat(planned["dueAt"]), datetime.fromisoformat(planned["since"]))
            current = await self._records.get(action.guest_id)
            if current is None or current.etag != planned.get("etag"):
                return "skipped", CHANGED
            if action.kind is ActionKind.NOTIFY:
                sent = await send_notice(self._records, self._audit, actor, current, now, why, action,
                                         self._settings.expiry_grace_days)
                return ("done" if sent else "already done"), ""
            result = await self._operations.run(operation_for(self._operations, action), action.guest_id, actor,
                                                record=current, evidence=why)
            return ("done" if result.changed else "already done"), ""
        except (ConcurrencyConflict, Conflict) as exc:
            return "skipped", exc.message
        except LifecycleError as exc:
            return "failed", exc.message
        except (KeyError, ValueError) as exc:  # an action this version cannot read
            return "failed", f"unreadable action: {type(exc).__name__}: {exc}"

    async def _record(self, plan: StoredPlan, lines: list[dict[str, Any]], actor: str, reason: str, run_id: str,
                      started: datetime) -> dict[str, Any]:
        outcomes = Counter(line["outcome"] for line in lines)
        done = dict(Counter(line["action"] for line in lines if line["outcome"] == "done"))
        failed = outcomes.get("failed", 0)
        report = {"planId": plan.plan_id, "runId": run_id, "approvedBy": actor, "reason": reason, "done": done,
                  "outcomes": dict(outcomes), "guard": plan.summary.get("guard", {})}
        run = RunRecord(run_id=run_id, trigger="approved-plan", started_at=started, finished_at=self._clock(),
                        dry_run=False, outcome="failed" if failed else "succeeded", actor=actor, report=report,
                        lines=tuple(lines))
        problem = await self._recorder.record(run)
        log_report(run)
        return {**report, "stored": not problem, "lines": lines}

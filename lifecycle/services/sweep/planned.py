"""From a survey to a plan and back to words: the pure planner's plan, its evidence, its description, the report."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lifecycle.domain.planning import Action, ExpiryPolicy, Plan, plan_expiry
from lifecycle.services import evidence
from lifecycle.services.sweep.report import SweepReport
from lifecycle.services.sweep.survey import Survey

EvidenceOf = Callable[[Action], dict[str, Any]]


def plan_from(survey: Survey, now: datetime, policy: ExpiryPolicy) -> Plan:
    """The plan of a survey: the pure planning function over the records that have anything due (the others
    would add nothing to it), with every tracked guest counted for the mass-deletion guard."""
    return plan_expiry(survey.guests, now, policy, survey.tracked, sign_ins=survey.sign_ins,
                       excluded=survey.excluded, absent_sponsors=survey.absent_sponsors)


def report_plan(plan: Plan, survey: Survey, report: SweepReport) -> None:
    """What the survey found and the plan holds, into the report."""
    report.tracked = survey.tracked
    report.directory = survey.directory_figures()
    report.inactivity = survey.inactivity
    report.refreshed = survey.refresh_counts()
    report.skipped += [{"guestId": i, "reason": "not a guest in the directory"} for i in survey.not_guests]
    report.failures += [{"guestId": i, "action": "read", "reason": reason[:500]} for i, reason in survey.unreadable]
    report.excluded = [{"guestId": e.guest_id, "group": e.group_id, "action": e.kind.value,
                        "reason": e.reason.value} for e in plan.excluded]
    report.planned = dict(Counter(a.kind.value for a in plan.actions))
    report.deferred = len(plan.deferred)
    report.held = len(plan.held)
    report.guard_tripped, report.guard_message = plan.guard_tripped, plan.guard_message


def evidence_for(survey: Survey, policy: ExpiryPolicy, run_id: str) -> EvidenceOf:
    """The evidence of each action of a plan made from `survey`: the record it was made from, its sign-ins."""
    guests = {g.id: g for g in survey.guests}
    sign_ins = survey.sign_ins or {}

    def of(action: Action) -> dict[str, Any]:
        return evidence.for_action(action, guests.get(action.guest_id), sign_ins.get(action.guest_id), policy,
                                   run_id)
    return of


def describe_plan(plan: Plan, survey: Survey, evidence_of: EvidenceOf | None = None) -> dict[str, Any]:
    """The plan as GET /api/expiry/plan and `expire --dry-run --json` give it: every action it would take, those the
    mass-deletion guard holds back marked `heldByGuard` (with `evidence_of`, each with its evidence)."""
    emails = survey.emails

    def described(action: Action, held: bool) -> dict[str, Any]:
        found = {"guestId": action.guest_id, "email": emails.get(action.guest_id, ""), "action": action.kind.value,
                 "reason": action.reason.value, "since": action.since.isoformat(), "heldByGuard": held}
        return {**found, "evidence": evidence_of(action)} if evidence_of else found

    return {
        "actions": [described(a, False) for a in plan.actions] + [described(a, True) for a in plan.held],
        "deferred": len(plan.deferred),
        "guard": {"tripped": plan.guard_tripped, "message": plan.guard_message},
        "excluded": [{"guestId": e.guest_id, "group": e.group_id, "action": e.kind.value, "reason": e.reason.value}
                     for e in plan.excluded],
        "inactivity": survey.inactivity,
    }

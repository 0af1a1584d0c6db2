"""Recording the sweep's runs: each run (timer, command line, dry run, approved plan) is stored with a compact report
and, per guest, what was planned and what happened; runs older than EXPIRY_RUN_RETENTION_DAYS (and plans past their
approval age) are removed by the sweep's housekeeping. A failed recording is logged and reported, never fails the
sweep."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lifecycle.config import Settings
from lifecycle.domain.planning import Action, Plan
from lifecycle.errors import LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import RunRecord, RunStore

log = get_logger("lifecycle")
REPORT_LISTS = ("excluded", "skipped", "failures", "plan")  # kept as lines, counted in the stored report
PURGE_LIMIT = 200  # runs and plans removed per sweep at most (the rest by the next ones)
REPORT_EVENT = "ExpirySweepReport"
"""The name the sweep's report is logged under, once per run: the alert rules of infra/modules/alerts.bicep look for
it (a trace, which host.json excludes from sampling)."""


@dataclass
class RunJournal:
    """What happened to each planned action of one run: True when the run made the change, False when it was
    already made; an action missing from `done` was skipped, failed or not reached (the report says which)."""

    run_id: str
    trigger: str
    actor: str
    started_at: datetime
    done: dict[tuple[str, str], bool] = field(default_factory=dict)

    def acted(self, action: Action, changed: bool) -> None:
        self.done[(action.guest_id, action.kind.value)] = changed


def run_outcome(dry_run: bool, guard_tripped: bool, failures: Iterable[object]) -> str:
    if dry_run:
        return "dry-run"
    if guard_tripped:
        return "guard-tripped"
    return "failed" if any(True for _ in failures) else "succeeded"


def _line(action: Action, email: str, outcome: str, detail: str = "") -> dict[str, Any]:
    return {"guestId": action.guest_id, "email": email, "action": action.kind.value, "reason": action.reason.value,
            "since": action.since.isoformat(), "outcome": outcome, "detail": detail[:500]}


def lines_of(plan: Plan | None, emails: Mapping[str, str], journal: RunJournal, report: Mapping[str, Any],
             dry_run: bool) -> list[dict[str, Any]]:
    """Per guest: each action the run planned and what became of it, then what the report names besides (a guest
    skipped or failed outside any planned action)."""
    skipped = {s["guestId"]: s["reason"] for s in report.get("skipped", [])}
    failed = {(f["guestId"], f["action"]): f["reason"] for f in report.get("failures", [])}
    failed_guests = {guest: reason for (guest, _), reason in failed.items()}
    lines: list[dict[str, Any]] = []
    planned: set[str] = set()
    for action in plan.actions if plan else []:
        planned.add(action.guest_id)
        email = emails.get(action.guest_id, "")
        key = (action.guest_id, action.kind.value)
        if dry_run:
            lines.append(_line(action, email, "planned (dry run)"))
        elif key in journal.done:
            lines.append(_line(action, email, "done" if journal.done[key] else "already done"))
        elif key in failed:
            lines.append(_line(action, email, "failed", failed[key]))
        elif action.guest_id in skipped:
            lines.append(_line(action, email, "skipped", skipped[action.guest_id]))
        else:
            lines.append(_line(action, email, "not done", failed_guests.get(action.guest_id, "")))
    if plan:
        lines += [_line(a, emails.get(a.guest_id, ""), "held by the mass-deletion guard") for a in plan.held]
        lines += [_line(a, emails.get(a.guest_id, ""), "deferred (EXPIRY_MAX_ACTIONS_PER_RUN)") for a in plan.deferred]
        lines += [{"guestId": e.guest_id, "email": emails.get(e.guest_id, ""), "action": e.kind.value,
                   "reason": e.reason.value, "since": "", "outcome": "excluded", "detail": f"group {e.group_id}"}
                  for e in plan.excluded]
    lines += [{"guestId": guest, "email": emails.get(guest, ""), "action": "-", "reason": "", "since": "",
               "outcome": "skipped", "detail": reason[:500]}
              for guest, reason in skipped.items() if guest not in planned]
    lines += [{"guestId": guest, "email": emails.get(guest, ""), "action": action, "reason": "", "since": "",
               "outcome": "failed", "detail": reason[:500]}
              for (guest, action), reason in failed.items() if guest not in planned]
    return lines


def stored_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report as a run keeps it: its figures, the lists it holds counted (they are the run's lines)."""
    kept = {key: value for key, value in report.items() if key not in REPORT_LISTS}
    kept["counts"] = {key: len(report.get(key) or ()) for key in ("excluded", "skipped", "failures")}
    kept["counts"]["planActions"] = len((report.get("plan") or {}).get("actions", ()))
    return kept


class RunRecorder:
    def __init__(self, store: RunStore, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    async def record(self, run: RunRecord) -> str:
        """Store the run; "" when stored, else why not (logged, never raised)."""
        try:
            await self._store.save_run(run)
        except LifecycleError as exc:
            log.error("run could not be stored", runId=run.run_id, error=exc.message)
            return exc.message
        return ""

    async def purge(self, now: datetime) -> int:
        """Remove runs older than the retention and plans that can no longer be approved (a day after)."""
        runs_before = now - timedelta(days=self._settings.expiry_run_retention_days)
        plans_before = now - timedelta(hours=self._settings.expiry_plan_max_age_hours) - timedelta(days=1)
        return await self._store.purge(runs_before, plans_before, PURGE_LIMIT)


def log_report(run: RunRecord) -> None:
    """The report, once per run, as the event REPORT_EVENT: one JSON line the alert rules parse (the summary, not the
    lists)."""
    summary = {"runId": run.run_id, "trigger": run.trigger, "outcome": run.outcome, "dryRun": run.dry_run,
               "startedAt": run.started_at.isoformat(), "finishedAt": run.finished_at.isoformat(),
               **{key: run.report.get(key) for key in ("planned", "done", "held", "deferred", "guard_tripped",
                                                        "guard_message", "counts", "tracked")}}
    (log.error if run.outcome in ("failed", "guard-tripped") else log.info)(REPORT_EVENT, **summary)

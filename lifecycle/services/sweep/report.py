"""The sweep's report: what it planned, did, skipped and could not do, as the CLI, the timer's log and the stored run
show it."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from lifecycle.errors import LifecycleError
from lifecycle.logs import get_logger

log = get_logger("lifecycle.expiry")


@dataclass
class SweepReport:
    started_at: str
    dry_run: bool
    run_id: str = ""
    trigger: str = ""
    tracked: int | None = None
    planned: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    held: int = 0  # actions the mass-deletion guard held back (listed by GET /api/expiry/plan, for approval)
    guard_tripped: bool = False
    guard_message: str = ""
    refreshed: dict[str, int] = field(default_factory=dict)
    directory: dict[str, float] = field(default_factory=dict)
    inactivity: str = ""
    excluded: list[dict[str, str]] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)  # in a dry run: what GET /api/expiry/plan answers
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: directory, records, plan, act
    finished_at: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.guard_tripped

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_text(self) -> str:
        lines = [f"expiry sweep {'(dry run) ' if self.dry_run else ''}at {self.started_at} (run {self.run_id})"]
        if self.guard_tripped:
            lines.append(f"GUARD: {self.guard_message}")
            lines.append(f"held by the guard: {self.held}")
        lines.append("planned: " + _counts(self.planned))
        lines.append("done:    " + _counts(self.done))
        lines.append(f"deferred to the next run (cap): {self.deferred}")
        lines.append("refreshed from Graph: " + _counts(self.refreshed))
        if self.directory:
            lines.append(f"directory pass: {self.directory['guests']:g} guests in {self.directory['requests']:g} "
                         f"requests ({self.directory['requestsPerThousandGuests']:g} per thousand guests)")
        if self.seconds:
            lines.append("seconds: " + ", ".join(f"{phase} {value:.2f}" for phase, value in self.seconds.items()))
        lines.append(f"inactivity: {self.inactivity}")
        lines += [f"skipped {e['guestId']}: {e['action']} ({e['reason']}) excluded by group {e['group']}"
                  for e in self.excluded]
        lines.append("repaired: " + _counts(self.repaired))
        lines += [f"skipped {s['guestId']}: {s['reason']}" for s in self.skipped]
        lines += [f"FAILED {f['action']} {f['guestId']}: {f['reason']}" for f in self.failures]
        lines += [f"would {a['action']} {a['guestId']} <{a['email']}>: {a['reason']} since {a['since']}"
                  for a in self.plan.get("actions", [])]
        return "\n".join(lines)


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


def report_failure(report: SweepReport, guest_id: str, action: str, exc: Exception) -> None:
    """Record one guest's failure in the report; the sweep goes on with the others."""
    reason = exc.message if isinstance(exc, LifecycleError) else f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, LifecycleError):
        log.error("sweep: unexpected error", guestId=guest_id, action=action, error=reason)
    report.failures.append({"guestId": guest_id, "action": action, "reason": reason[:500]})

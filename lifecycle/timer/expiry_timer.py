"""The expiry timer: one sweep per schedule (EXPIRY_SCHEDULE, NCRONTAB, UTC); `run_sweep` is shared with the CLI.
A sweep always ends in a report: one that cannot start (services that cannot be built from the settings) or whose
directory pass fails (no token, Graph or storage down) is a report with the failure, logged, never a traceback."""
from __future__ import annotations

from dataclasses import asdict

import azure.functions as func

from lifecycle.domain.model import utcnow
from lifecycle.errors import LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import RunRecord
from lifecycle.services.run_record import log_report
from lifecycle.services.sweep import SweepReport
from lifecycle.wiring import container

bp = func.Blueprint()
log = get_logger("lifecycle.expiry")


@bp.timer_trigger(schedule="%EXPIRY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def expire_guests(timer: func.TimerRequest) -> None:
    await run_sweep(close=False, trigger="timer")


async def run_sweep(*, dry_run: bool | None = None, override_guard: bool = False,
                    close: bool = True, trigger: str = "cli") -> SweepReport:
    """One expiry sweep on the services of the running event loop, stored as a run (`trigger`: timer, cli);
    `close` releases the services after (the CLI)."""
    try:
        try:
            services = container.get()
        except LifecycleError as exc:  # e.g. ConfigurationError: a setting the services cannot be built from
            return _not_started(exc, dry_run, trigger)
        return await services.expiry.run(dry_run=dry_run, override_guard=override_guard, trigger=trigger)
    finally:
        if close:
            await container.close_current()


def _not_started(exc: LifecycleError, dry_run: bool | None, trigger: str) -> SweepReport:
    """The report of a sweep that could not start: logged (also under REPORT_EVENT, for the alert), not stored."""
    now = utcnow()
    report = SweepReport(started_at=now.isoformat(), dry_run=bool(dry_run), finished_at=now.isoformat(),
                         trigger=trigger, failures=[{"guestId": "-", "action": "start", "reason": exc.message}])
    log.error("expiry sweep", **asdict(report))
    log_report(RunRecord(run_id="", trigger=trigger, started_at=now, finished_at=now, dry_run=bool(dry_run),
                         outcome="failed", actor="expiry-sweep", report={"counts": {"failures": 1}}))
    return report

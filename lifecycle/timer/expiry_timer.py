"""The expiry timer: one sweep per schedule (EXPIRY_SCHEDULE, NCRONTAB, UTC); `run_sweep` is shared with the CLI."""
from __future__ import annotations

import azure.functions as func

from lifecycle.services.sweep import SweepReport
from lifecycle.wiring import container

bp = func.Blueprint()


@bp.timer_trigger(schedule="%EXPIRY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def expire_guests(timer: func.TimerRequest) -> None:
    await run_sweep(close=False)


async def run_sweep(*, dry_run: bool | None = None, override_guard: bool = False,
                    close: bool = True) -> SweepReport:
    """One expiry sweep on the services of the running event loop; `close` releases them after (the CLI)."""
    try:
        return await container.get().expiry.run(dry_run=dry_run, override_guard=override_guard)
    finally:
        if close:
            await container.close_current()

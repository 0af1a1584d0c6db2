"""The expiry timer: one sweep per schedule (EXPIRY_SCHEDULE, NCRONTAB, UTC)."""
from __future__ import annotations

import azure.functions as func

from lifecycle.timer.runner import run_sweep

bp = func.Blueprint()


@bp.timer_trigger(schedule="%EXPIRY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def expire_guests(timer: func.TimerRequest) -> None:
    await run_sweep(close=False)

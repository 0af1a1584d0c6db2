"""One expiry sweep on the services of the running event loop (the timer and the CLI share it)."""
from __future__ import annotations

from lifecycle.services.sweep import SweepReport
from lifecycle.wiring import container


async def run_sweep(*, dry_run: bool | None = None, override_guard: bool = False,
                    close: bool = True) -> SweepReport:
    try:
        return await container.get().expiry.run(dry_run=dry_run, override_guard=override_guard)
    finally:
        if close:
            await container.close_current()

"""Adoption's progress as `python -m lifecycle adopt` prints it on stderr (stdout keeps the report alone)."""
from __future__ import annotations

import time

import click

from lifecycle.services.adoption import Progress


class ProgressLines:
    """Adoption's progress on stderr: a line when a stage starts, then one every `seconds`, and the stage's last."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._stage, self._stage_started = "", 0.0
        self._shown_at: float | None = None  # None: nothing of this stage shown yet
        self._last: Progress | None = None
        self._unshown: Progress | None = None

    def show(self, progress: Progress) -> None:
        if progress == self._last:
            return
        now = time.monotonic()
        if progress.stage != self._stage:
            self.done()
            self._stage, self._stage_started, self._shown_at = progress.stage, now, None
        self._last = self._unshown = progress
        if self._shown_at is None or now - self._shown_at >= self._seconds:
            self._print(progress, now)

    def done(self) -> None:
        """Show the last progress, unless it was shown."""
        if self._unshown is not None:
            self._print(self._unshown, time.monotonic())

    def interrupted(self) -> None:
        adopted = self._last.adopted if self._last is not None else 0
        click.echo(f"adoption interrupted after adopting {adopted} guests: run it again to adopt the rest (those "
                   "adopted are tracked, and counted as already tracked)", err=True)

    def _print(self, progress: Progress, now: float) -> None:
        self._shown_at, self._unshown = now, None
        elapsed = max(now - self._stage_started, 1e-3)
        counted = progress.adopted if progress.stage == "writing" else progress.read
        click.echo(f"adoption {progress.stage}: read {progress.read}, found {progress.found}, adopted "
                   f"{progress.adopted}, already tracked {progress.already_tracked}, skipped {progress.skipped} "
                   f"({elapsed:.0f} s, {counted / elapsed:.0f} {'adopted' if progress.stage == 'writing' else 'read'}"
                   "/s)", err=True)

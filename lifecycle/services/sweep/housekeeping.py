"""Keeping house after acting: the outbox emptied, expired idempotency keys and old runs dropped, exclusions
audited. Independent of the plan's actions; a failure is reported, never raised past the sweep."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from lifecycle.config import Settings
from lifecycle.domain.planning import ExpiryPolicy, Plan
from lifecycle.errors import LifecycleError
from lifecycle.ports import AuditEntry, Event, IdempotencyStore
from lifecycle.services import evidence
from lifecycle.services.audit import Audit
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.run_record import RunRecorder
from lifecycle.services.sweep.acting import ACTOR
from lifecycle.services.sweep.report import SweepReport
from lifecycle.services.sweep.survey import Survey

AUDIT_BATCH = 50  # exclusion entries written at once


class Housekeeper:
    def __init__(self, *, audit: Audit, settings: Settings, clock: Callable[[], datetime],
                 dispatcher: EventDispatcher, idempotency_store: IdempotencyStore, runs: RunRecorder | None) -> None:
        self._audit, self._settings, self._clock = audit, settings, clock
        self._dispatcher, self._keys, self._runs = dispatcher, idempotency_store, runs

    async def audit_exclusions(self, plan: Plan, survey: Survey, policy: ExpiryPolicy, run_id: str,
                               now: datetime) -> None:
        """One entry per guest whose due disable or delete an excluded group held back (rule `excluded`)."""
        guests = {g.id: g for g in survey.guests}
        sign_ins = survey.sign_ins or {}
        entries = [AuditEntry(actor=ACTOR, action="guest.excluded", target=e.guest_id, outcome="skipped", at=now,
                              details={"evidence": evidence.for_exclusion(e, guests.get(e.guest_id),
                                                                          sign_ins.get(e.guest_id), policy, run_id)})
                   for e in plan.excluded]
        for start in range(0, len(entries), AUDIT_BATCH):
            await asyncio.gather(*(self._audit.record(entry) for entry in entries[start:start + AUDIT_BATCH]))

    async def keep_house(self, written: list[Event], published: list[Event], now: datetime,
                         report: SweepReport) -> None:
        """Remove the sent events from the outbox, send the rest of this run's events and what earlier runs or
        requests left there, drop expired idempotency keys: independent steps, run together."""
        steps = await asyncio.gather(
            self._dispatcher.remove(published), self._dispatcher.send(written), self._dispatcher.drain(self._clock()),
            self._keys.purge_expired(now, self._settings.expiry_max_actions_per_run), self._purge_runs(now),
            return_exceptions=True)
        _, sent_now, drained, expired_keys, old_runs = steps
        errors = [step for step in steps if isinstance(step, BaseException)]
        for error in errors:
            if not isinstance(error, LifecycleError):
                raise error
            report.failures.append({"guestId": "-", "action": "housekeeping", "reason": error.message})
        sent = len(published) + sum(n for n in (sent_now, drained) if isinstance(n, int))
        expired = expired_keys if isinstance(expired_keys, int) else 0
        removed = old_runs if isinstance(old_runs, int) else 0
        report.repaired = {**report.repaired, **({"events sent": sent} if sent else {}),
                           **({"idempotency keys expired": expired} if expired else {}),
                           **({"old runs and plans removed": removed} if removed else {})}

    async def _purge_runs(self, now: datetime) -> int:
        return await self._runs.purge(now) if self._runs is not None else 0

"""Acting on a plan: write what the directory pass found, then each guest's actions in order, guests in parallel,
each guest read again just before a disable or delete."""
from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lifecycle.config import Settings
from lifecycle.domain.model import Guest
from lifecycle.domain.planning import ENFORCING, Action, ActionKind, Plan
from lifecycle.errors import ConcurrencyConflict, Conflict, LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import Directory, DirectoryUser, Event
from lifecycle.request_log import unit_of_work
from lifecycle.services.acting import operation_for, send_notice
from lifecycle.services.audit import Audit
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.operations import GuestOperations, Operation
from lifecycle.services.records import GuestRecords
from lifecycle.services.run_record import RunJournal
from lifecycle.services.sweep.changes import Reconciliation
from lifecycle.services.sweep.planned import EvidenceOf
from lifecycle.services.sweep.report import SweepReport, report_failure
from lifecycle.services.sweep.survey import Survey

ACTOR = "expiry-sweep"
GUESTS_PER_GRAPH_SLOT = 2  # guests under way per Graph call in flight
_NOT_READ = DirectoryUser("", "")  # a guest the re-check before acting did not read (nothing enforcing due)
log = get_logger("lifecycle.expiry")


def guests_under_way(graph_calls_in_flight: int) -> int:
    """Guests the sweep works on at once: twice the Graph calls in flight, so that storage work overlaps Graph
    calls; one at a time when Graph gets one call at a time."""
    return 1 if graph_calls_in_flight <= 1 else graph_calls_in_flight * GUESTS_PER_GRAPH_SLOT


class SweepActor:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 clock: Callable[[], datetime], operations: GuestOperations, dispatcher: EventDispatcher) -> None:
        self._records, self._directory, self._audit = records, directory, audit
        self._settings, self._clock, self._operations, self._dispatcher = settings, clock, operations, dispatcher

    # --- reconcile: write what the directory pass found -------------------------------------------
    async def reconcile(self, survey: Survey, report: SweepReport) -> dict[str, Guest]:
        """Write what the directory pass found; the planned records as stored now (with their ETags), by id, for
        acting on. A record whose write failed is left out (read again if acted on)."""
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 4)
        changed = {change.guest.id for change in survey.changes}
        records = {guest.id: guest for guest in survey.guests if guest.id not in changed}
        planned = {guest.id for guest in survey.guests}

        async def write(change: Reconciliation) -> None:
            async with slots:
                saved = await self._reconcile_one(change, report)
            if saved is not None and saved.id in planned:
                records[saved.id] = saved

        await asyncio.gather(*(write(c) for c in survey.changes))
        return records

    async def _reconcile_one(self, change: Reconciliation, report: SweepReport) -> Guest | None:
        """Record what the directory says (audited as `guest.refresh` with what changed)."""
        try:
            async with self._audit.audited(ACTOR, "guest.refresh", change.guest.id, found=change.kind):
                return await self._records.update(change.guest, change.transition, change.event)
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            report_failure(report, change.guest.id, "refresh", exc)
            return None

    # --- act -------------------------------------------------------------------------------------
    async def act(self, plan: Plan, records: dict[str, Guest], now: datetime, report: SweepReport,
                  published: list[Event], evidence_of: EvidenceOf, journal: RunJournal) -> None:
        """Each guest's actions in order, guests in parallel: more guests under way than Graph calls in flight (the
        Graph adapter bounds those), so one guest's storage work overlaps another's Graph calls. The intents of the
        next guests are written ahead, a batch in one transaction, half a batch before they are reached. A guest's
        events are published as soon as its actions end; their outbox rows are removed together at the end."""
        by_guest: dict[str, list[Action]] = defaultdict(list)
        for action in plan.actions:
            by_guest[action.guest_id].append(action)
        under_way = guests_under_way(self._settings.graph_max_concurrency)
        slots, progress = asyncio.Semaphore(under_way), asyncio.Condition()
        done: Counter[str] = Counter()
        started = launched = 0

        async def act(actions: list[Action]) -> None:
            nonlocal started
            with unit_of_work() as written:
                async with slots:
                    async with progress:
                        started += 1
                        progress.notify_all()
                    await act_in_order(actions)
            published.extend(await self._dispatcher.publish(written))

        async def act_in_order(actions: list[Action]) -> None:
            record = records.get(actions[0].guest_id)
            for action in actions:
                outcome = await self._act_one(action, record, now, report, evidence_of(action))
                if outcome is None:
                    return
                journal.acted(action, bool(outcome))
                done[action.kind.value] += outcome
                record = None  # changed by the action: read again for the next one

        def caught_up() -> bool:
            return launched - started <= under_way // 2

        guests = list(by_guest.values())
        async with asyncio.TaskGroup() as group:
            for start in range(0, len(guests), under_way):
                batch = guests[start:start + under_way]
                async with progress:
                    await progress.wait_for(caught_up)
                batch = await self._still_guests(batch, report)
                if under_way > 1:
                    await self._begin_ahead(batch, records)
                for actions in batch:
                    group.create_task(act(actions))
                launched += len(batch)
        report.done = {kind: count for kind, count in done.items() if count}

    async def _still_guests(self, batch: list[list[Action]], report: SweepReport) -> list[list[Action]]:
        """The guests of `batch` that Graph still shows as guests, read again just before acting (the pass that
        planned them may be minutes old: a guest converted to a member since is skipped and reported, never
        disabled or deleted). One read for the batch (`Directory.get_users`: `id in` lists of 15). A user gone from
        the directory meanwhile is left to the next pass, unless all that is due is its delete."""
        enforcing = [actions for actions in batch if any(a.kind in ENFORCING for a in actions)]
        if not enforcing:
            return batch
        ids = [actions[0].guest_id for actions in enforcing]
        try:
            users = await self._directory.get_users(ids)
        except LifecycleError as exc:
            for guest_id in ids:
                report_failure(report, guest_id, "re-check before acting", exc)
            return [actions for actions in batch if actions not in enforcing]
        kept = []
        for actions in batch:
            user = users.get(actions[0].guest_id, _NOT_READ)
            if user is _NOT_READ or (user is not None and user.is_guest):
                kept.append(actions)
            elif user is None and all(a.kind is not ActionKind.DISABLE for a in actions):
                kept.append(actions)
            else:
                reason = "no longer in the directory" if user is None else "no longer a guest in the directory"
                report.skipped.append({"guestId": actions[0].guest_id,
                                       "reason": f"{reason} (checked just before acting); nothing done"})
        return kept

    async def _begin_ahead(self, batch: list[list[Action]], records: dict[str, Guest]) -> None:
        """Write the intents of a batch of guests in one transaction: the write-ahead record each operation would
        otherwise write on its own (it then finds its intent recorded and goes on to Graph). Only where the
        operation would write it itself: a record as planned, nothing under way, not done, a possible transition.
        A batch that cannot be written together (a guest changed since the survey, records in different partitions)
        is left to each operation."""
        now, begun = self._clock(), []
        for actions in batch:
            action, record = actions[0], records.get(actions[0].guest_id)
            if action.kind is ActionKind.NOTIFY or record is None or record.pending_action:
                continue
            operation = self._operation(action)
            try:
                if not operation.done(record):
                    operation.transition(record, now)
                    begun.append(record.begin(operation.intent, now))
            except LifecycleError:
                continue  # the operation refuses it itself, and reports it
        if len(begun) < 2:
            return
        try:
            saved = await self._records.save_all(begun)
        except (LifecycleError, ValueError) as exc:
            log.info("sweep: intents written one by one", reason=str(exc)[:200])
            return
        records.update((guest.id, guest) for guest in saved)

    async def _act_one(self, action: Action, record: Guest | None, now: datetime, report: SweepReport,
                       why: dict[str, Any]) -> int | None:
        """1 when this run made the change, 0 when it was already made, None when it could not be made. `why` (the
        evidence) goes into the action's audit entry."""
        try:
            if action.kind is ActionKind.NOTIFY:
                guest = record or await self._records.load(action.guest_id)
                return await send_notice(self._records, self._audit, ACTOR, guest, now, why, action,
                                         self._settings.expiry_grace_days)
            result = await self._operations.run(self._operation(action), action.guest_id, ACTOR,
                                                known_user=DirectoryUser(action.guest_id, "Guest"), record=record,
                                                evidence=why)
            return int(result.changed)
        except (ConcurrencyConflict, Conflict) as exc:
            report.skipped.append({"guestId": action.guest_id, "reason": f"{action.kind.value}: {exc.message}"})
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            report_failure(report, action.guest_id, action.kind.value, exc)
        return None

    def _operation(self, action: Action) -> Operation:
        return operation_for(self._operations, action)

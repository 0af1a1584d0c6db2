"""The expiry sweep: read what is due, refresh it from Graph, plan, guard, act, repair, report."""
from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from lifecycle.domain import events
from lifecycle.domain.expiry import ENFORCING, Action, ActionKind, ExpiryPolicy, Plan, due_actions, plan_expiry
from lifecycle.domain.model import DELETED_RETENTION, Guest, IndexKind, InvitationState
from lifecycle.errors import ConcurrencyConflict, Conflict, LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import DirectoryUser, Event, IdempotencyStore
from lifecycle.request_log import collect_events
from lifecycle.services.context import Context
from lifecycle.services.events import EventDispatcher
from lifecycle.services.invitations import InvitationService
from lifecycle.services.operations import GuestOperations, Operation
from lifecycle.services.provisioning import Provisioner

ACTOR = "expiry-sweep"
READ_FACTOR = 5  # read up to this many times the per-run cap from each index
log = get_logger("lifecycle.expiry")


@dataclass
class SweepReport:
    started_at: str
    dry_run: bool
    tracked: int | None = None
    planned: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    guard_tripped: bool = False
    guard_message: str = ""
    refreshed: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    finished_at: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.guard_tripped

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_text(self) -> str:
        lines = [f"expiry sweep {'(dry run) ' if self.dry_run else ''}at {self.started_at}"]
        if self.guard_tripped:
            lines.append(f"GUARD: {self.guard_message}")
        lines.append("planned: " + _counts(self.planned))
        lines.append("done:    " + _counts(self.done))
        lines.append(f"deferred to the next run (cap): {self.deferred}")
        lines.append("refreshed from Graph: " + _counts(self.refreshed))
        lines.append("repaired: " + _counts(self.repaired))
        lines += [f"skipped {s['guestId']}: {s['reason']}" for s in self.skipped]
        lines += [f"FAILED {f['action']} {f['guestId']}: {f['reason']}" for f in self.failures]
        return "\n".join(lines)


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


class ExpirySweep:
    def __init__(self, context: Context, operations: GuestOperations, provisioner: Provisioner,
                 invitations: InvitationService, dispatcher: EventDispatcher, keys: IdempotencyStore) -> None:
        self._context = context
        self._dispatcher = dispatcher
        self._keys = keys
        self._operations = operations
        self._provisioner = provisioner
        self._invitations = invitations

    def policy(self, dry_run: bool | None, override_guard: bool) -> ExpiryPolicy:
        s = self._context.settings
        return ExpiryPolicy(grace_days=s.expiry_grace_days, redeem_days=s.invite_redeem_days,
                            notice_days=s.expiry_notice_days, max_actions=s.expiry_max_actions_per_run,
                            guard_percent=s.expiry_guard_percent, guard_min=s.expiry_guard_min,
                            dry_run=s.expiry_dry_run if dry_run is None else dry_run, override_guard=override_guard)

    async def run(self, *, dry_run: bool | None = None, override_guard: bool = False) -> SweepReport:
        now = self._context.clock()
        policy = self.policy(dry_run, override_guard)
        report = SweepReport(started_at=now.isoformat(), dry_run=policy.dry_run)
        guests = await self._read_due(now, policy)
        guests = await self._refresh(guests, now, policy, report)
        plan = await self._plan(guests, now, policy, report)
        if not plan.guard_tripped and not policy.dry_run:
            with collect_events() as written:
                await self._act(plan, now, report)
                await self._repair(now, report)
            await self._housekeeping(written, now, report)
        report.finished_at = self._context.clock().isoformat()
        (log.error if report.guard_tripped or report.failures else log.info)("expiry sweep", **asdict(report))
        return report

    # --- read ------------------------------------------------------------------------------------
    async def _read_due(self, now: datetime, policy: ExpiryPolicy) -> list[Guest]:
        store, limit = self._context.store, policy.max_actions * READ_FACTOR
        ranges = [(IndexKind.EXPIRES, now + timedelta(days=policy.notice_days)),
                  (IndexKind.DISABLED, now - timedelta(days=policy.grace_days)),
                  (IndexKind.DELETED, now - DELETED_RETENTION)]
        if policy.redeem_days > 0:
            ranges.append((IndexKind.INVITED, now - timedelta(days=policy.redeem_days)))
        found = await asyncio.gather(*(store.due(kind, until, limit) for kind, until in ranges))
        ids = list(dict.fromkeys(guest_id for batch in found for guest_id in batch))
        return await self._load_many(ids)

    async def _load_many(self, ids: list[str]) -> list[Guest]:
        slots = asyncio.Semaphore(self._context.settings.graph_max_concurrency * 4)

        async def load(guest_id: str) -> Guest | None:
            async with slots:
                return await self._context.store.get(guest_id)

        return [g for g in await asyncio.gather(*(load(i) for i in ids)) if g is not None]

    # --- refresh ---------------------------------------------------------------------------------
    async def _refresh(self, guests: list[Guest], now: datetime, policy: ExpiryPolicy,
                       report: SweepReport) -> list[Guest]:
        """Re-read from Graph every guest the plan would disable or delete: redemption, existence, user type."""
        slots = asyncio.Semaphore(self._context.settings.graph_max_concurrency)
        counts: Counter[str] = Counter()

        async def refresh(guest: Guest) -> Guest | None:
            if not any(a.kind in ENFORCING for a in due_actions(guest, now, policy)):
                return guest
            async with slots:
                return await self._refresh_one(guest, now, policy, report, counts)

        refreshed = await asyncio.gather(*(refresh(g) for g in guests))
        report.refreshed = dict(counts)
        return [g for g in refreshed if g is not None]

    async def _refresh_one(self, guest: Guest, now: datetime, policy: ExpiryPolicy, report: SweepReport,
                           counts: Counter[str]) -> Guest | None:
        try:
            user = await self._context.directory.get_user(guest.id)
        except LifecycleError as exc:
            report.failures.append({"guestId": guest.id, "action": "refresh", "reason": exc.message})
            return None
        counts["checked"] += 1
        if user is not None and not user.is_guest:
            report.skipped.append({"guestId": guest.id, "reason": "not a guest in the directory"})
            return None
        change = _directory_change(guest, user, now)
        if change is None or policy.dry_run:
            return guest
        counts["gone" if user is None else "redeemed"] += 1
        try:
            return await self._context.update(guest, change)
        except LifecycleError as exc:
            report.failures.append({"guestId": guest.id, "action": "refresh", "reason": exc.message})
            return None

    # --- plan ------------------------------------------------------------------------------------
    async def _plan(self, guests: list[Guest], now: datetime, policy: ExpiryPolicy, report: SweepReport) -> Plan:
        needs_guard = sum(1 for g in guests if any(a.kind in ENFORCING for a in due_actions(g, now, policy)))
        tracked = await self._context.store.count_tracked() if needs_guard > policy.guard_min else None
        plan = plan_expiry(guests, now, policy, needs_guard if tracked is None else tracked)
        report.tracked = tracked
        report.planned = dict(Counter(a.kind.value for a in plan.actions))
        report.deferred = len(plan.deferred)
        report.guard_tripped, report.guard_message = plan.guard_tripped, plan.guard_message
        return plan

    # --- act -------------------------------------------------------------------------------------
    async def _act(self, plan: Plan, now: datetime, report: SweepReport) -> None:
        by_guest: dict[str, list[Action]] = defaultdict(list)
        for action in plan.actions:
            by_guest[action.guest_id].append(action)
        slots = asyncio.Semaphore(self._context.settings.graph_max_concurrency)
        done: Counter[str] = Counter()

        async def act(actions: list[Action]) -> None:
            async with slots:
                for action in actions:
                    outcome = await self._act_one(action, now, report)
                    if outcome is None:
                        return
                    done[action.kind.value] += outcome

        async with asyncio.TaskGroup() as group:
            for actions in by_guest.values():
                group.create_task(act(actions))
        report.done = {kind: count for kind, count in done.items() if count}

    async def _act_one(self, action: Action, now: datetime, report: SweepReport) -> int | None:
        """1 when this run made the change, 0 when it was already made, None when it could not be made."""
        try:
            if action.kind is ActionKind.NOTIFY:
                return await self._notify(action.guest_id, now)
            result = await self._operations.run(self._operation(action), action.guest_id, ACTOR,
                                                verified=DirectoryUser(action.guest_id, "Guest"))
            return int(result.changed)
        except (ConcurrencyConflict, Conflict) as exc:
            report.skipped.append({"guestId": action.guest_id, "reason": f"{action.kind.value}: {exc.message}"})
        except LifecycleError as exc:
            report.failures.append({"guestId": action.guest_id, "action": action.kind.value, "reason": exc.message})
        return None

    def _operation(self, action: Action) -> Operation:
        operations = self._operations
        return {ActionKind.DISABLE: lambda: operations.disabling(action.disabled_reason),
                ActionKind.DELETE: operations.deleting, ActionKind.PURGE: operations.purging}[action.kind]()

    async def _notify(self, guest_id: str, now: datetime) -> int:
        guest = await self._context.load(guest_id)
        if guest.notice_sent_at is not None:
            return 0
        await self._context.update(
            guest, lambda g: replace(g, notice_sent_at=now, updated_at=now) if g.notice_sent_at is None else g,
            events.EXPIRING)
        return 1

    # --- housekeeping ----------------------------------------------------------------------------
    async def _housekeeping(self, written: list[Event], now: datetime, report: SweepReport) -> None:
        """Send this run's events, then whatever earlier runs or requests left in the outbox; drop old keys."""
        try:
            sent = await self._dispatcher.send(written)
            sent += await self._dispatcher.drain(self._context.clock())
            expired_keys = await self._keys.purge_expired(now, self._context.settings.expiry_max_actions_per_run)
        except LifecycleError as exc:
            report.failures.append({"guestId": "-", "action": "housekeeping", "reason": exc.message})
            return
        report.repaired = {**report.repaired, **({"events sent": sent} if sent else {}),
                           **({"idempotency keys expired": expired_keys} if expired_keys else {})}

    # --- repair ----------------------------------------------------------------------------------
    async def _repair(self, now: datetime, report: SweepReport) -> None:
        counts: Counter[str] = Counter()
        limit = self._context.settings.expiry_max_actions_per_run
        ids = await self._context.store.due(IndexKind.REPAIR, now, limit)
        for guest in await self._load_many(ids):
            await self._repair_guest(guest, report, counts)
        stale = now - timedelta(seconds=self._context.tuning.claim_stale_seconds)
        for claim in await self._context.store.stale_claims(stale, limit):
            try:
                counts[f"claim {await self._invitations.resolve_stale_claim(claim)}"] += 1
            except LifecycleError as exc:
                report.failures.append({"guestId": claim.email, "action": "resolve claim", "reason": exc.message})
        report.repaired = dict(counts)

    async def _repair_guest(self, guest: Guest, report: SweepReport, counts: Counter[str]) -> None:
        try:
            operation = self._operations.resumable(guest)
            if operation is not None:
                await self._operations.run(operation, guest.id, ACTOR)
                counts[f"resumed {operation.name}"] += 1
                guest = await self._context.load(guest.id)
            if guest.pending_groups or guest.removing_groups or guest.pending_attributes:
                finished = await self._provisioner.finish(guest)
                counts["groups finished" if not finished.pending_groups else "groups still pending"] += 1
        except LifecycleError as exc:
            report.failures.append({"guestId": guest.id, "action": "repair", "reason": exc.message})


def _directory_change(guest: Guest, user: DirectoryUser | None, now: datetime) -> Any:
    if user is None:
        return lambda g: g.gone_from_directory(now)
    if user.external_user_state == InvitationState.ACCEPTED.value and guest.invitation_state is not \
            InvitationState.ACCEPTED:
        return lambda g: g.redeemed(now)
    return None

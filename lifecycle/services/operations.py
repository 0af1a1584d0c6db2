"""Lifecycle operations on a tracked guest: disable, enable, extend, re-invite, delete, restore.

Each one: refuse non-guests (checked in Graph), stay idempotent (a repeat changes nothing and writes nothing to
Graph), record the intent before the Graph write and the outcome after it, both ETag-guarded. A request for one
operation while another is recorded as pending finishes the pending one first and answers 409: the record never
contradicts what Graph was already told."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lifecycle.config import Settings, Tuning
from lifecycle.domain import events
from lifecycle.domain.model import SWEEP_REASONS, DisabledReason, Guest, GuestState
from lifecycle.errors import Conflict, Forbidden, GraphNotFound, LifecycleError, NotFound
from lifecycle.ports import Directory, DirectoryUser
from lifecycle.services.audit import Audit
from lifecycle.services.records import GuestRecords

log = logging.getLogger("lifecycle")
GraphStep = Callable[[Guest], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """One lifecycle operation: when it is already done, its Graph writes, and the record change after them."""

    name: str
    intent: str  # recorded on the guest while the Graph write is under way; enough to resume it
    done: Callable[[Guest], bool]
    transition: Callable[[Guest, datetime], Guest]
    graph: GraphStep | None
    event: str | None
    in_deleted_items: bool = False


@dataclass(frozen=True)
class OperationResult:
    guest: Guest
    changed: bool
    graph_result: Any = None


class GuestOperations:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._tuning = tuning
        self._clock = clock

        async def block(guest: Guest) -> None:
            await directory.block_sign_in(guest.id)

        async def unblock(guest: Guest) -> None:
            await directory.update_user(guest.id, {"accountEnabled": True})

        self._block, self._unblock = block, unblock

    # --- the operations --------------------------------------------------------------------------
    def disabling(self, reason: DisabledReason) -> Operation:
        return Operation("disable", f"disable:{reason.value}", lambda g: g.state is GuestState.DISABLED,
                         lambda g, now: g.disable(now, reason), self._block, events.DISABLED)

    def enabling(self) -> Operation:
        return Operation("enable", "enable", lambda g: g.is_live, lambda g, now: g.enable(now), self._unblock, events.ENABLED)

    def extending(self, expires_at: datetime) -> Operation:
        def transition(guest: Guest, now: datetime) -> Guest:
            extended = guest.extend(now, expires_at)
            return extended.enable(now) if extended.disabled_reason in SWEEP_REASONS else extended

        def needs_enable(guest: Guest) -> bool:
            return guest.state is GuestState.DISABLED and guest.disabled_reason in SWEEP_REASONS

        async def graph(guest: Guest) -> None:
            if needs_enable(guest):
                await self._unblock(guest)

        return Operation("extend", f"extend:{expires_at.isoformat()}", lambda g: g.expires_at == expires_at and not needs_enable(g), transition,
                         graph, events.EXTENDED)

    def reinviting(self, redirect_url: str) -> Operation:
        async def graph(guest: Guest) -> str:
            invitation = await self._directory.reset_redemption(guest.id, guest.email, redirect_url)
            return invitation.redeem_url

        return Operation("reinvite", "reinvite", lambda g: False, lambda g, now: g.reinvited(now), graph, None)

    def deleting(self) -> Operation:
        return Operation("delete", "delete", lambda g: g.is_removed,
                         lambda g, now: g.delete(now), self._delete_in_graph, events.DELETED)

    def restoring(self) -> Operation:
        return Operation("restore", "restore", lambda g: g.is_tracked,
                         lambda g, now: g.restore(now), self._restore_in_graph, events.RESTORED, in_deleted_items=True)

    def purging(self) -> Operation:
        return Operation("purge", "purge", lambda g: g.state is GuestState.PURGED, lambda g, now: g.purge(now), None, None)

    async def _delete_in_graph(self, guest: Guest) -> None:
        try:
            await self._directory.delete_user(guest.id)
        except GraphNotFound:
            log.info("delete: %s is no longer in the directory; nothing to delete", guest.id)

    async def _restore_in_graph(self, guest: Guest) -> None:
        try:
            await self._directory.restore_user(guest.id)
        except GraphNotFound:
            if await self._directory.get_user(guest.id) is None:
                raise NotFound("the user is no longer in deleted items (deleted over 30 days ago or purged)",
                               code="NotRestorable") from None

    # --- running one -----------------------------------------------------------------------------
    async def run(self, operation: Operation, guest_id: str, actor: str, *, known_user: DirectoryUser | None = None,
                  record: Guest | None = None) -> OperationResult:
        """Run `operation` on the guest. `record` is the guest as the caller read it (the sweep, which planned from
        it): the intent is then written guarded by its ETag, so a guest changed since is a ConcurrencyConflict, never
        acted on from stale data. Without it the record is read first."""
        async with self._audit.audited(actor, f"guest.{operation.name}", guest_id) as notes:
            guest = record if record is not None and record.id == guest_id else await self._records.load(guest_id)
            if guest.is_busy_with_other_than(operation.intent):
                await self._resume_then_refuse(guest, actor, known_user)
            if operation.done(guest) and guest.pending_action != operation.intent:
                notes["outcome"] = "unchanged"
                return OperationResult(guest, changed=False)
            operation.transition(guest, self._clock())  # refuse an impossible change before any write
            if known_user is None:
                await self.verify_guest(guest, operation.in_deleted_items)
            result = await self._execute(operation, guest)
            notes["state"] = result.guest.state.value
        return result

    async def verify_guest(self, guest: Guest, in_deleted_items: bool = False) -> DirectoryUser:
        directory = self._directory
        user = await (directory.get_deleted_user(guest.id) if in_deleted_items else directory.get_user(guest.id))
        if user is None:
            where = "deleted items" if in_deleted_items else "the directory"
            raise NotFound(f"the user '{guest.id}' is not in {where}", code="GuestNotInDirectory")
        if not user.is_guest:
            raise Forbidden("the user is not a guest; only guests are changed", code="NotAGuest")
        return user

    async def _resume_then_refuse(self, guest: Guest, actor: str, known_user: DirectoryUser | None) -> None:
        """Finish the operation the record says is pending (its Graph writes may already have been made), then
        refuse the new one with 409: the caller decides again on the finished state."""
        pending = self.pending(guest)
        resumed, reason = False, ""
        if pending is not None:
            try:
                await self.run(pending, guest.id, actor, known_user=known_user)
                resumed = True
            except LifecycleError as exc:
                reason = exc.message
        message = (f"another operation ({guest.pending_action}) was pending on this guest; "
                   + ("it has now been finished: repeat the request if it is still wanted" if resumed
                      else f"it could not be finished yet ({reason or 'unknown operation'}); retry later"))
        raise Conflict(message, code="OperationInProgress",
                       details=[{"pendingAction": guest.pending_action, "resumed": resumed}])

    def resumable(self, guest: Guest) -> Operation | None:
        """The operation a guest's recorded intent stands for, if it was left unfinished long enough ago."""
        age = (self._clock() - guest.pending_since).total_seconds() if guest.pending_since else 0
        if age < self._tuning.action_stale_seconds:
            return None
        return self.pending(guest)

    def pending(self, guest: Guest) -> Operation | None:
        """The operation a guest's recorded intent stands for, however recent."""
        if not guest.pending_action:
            return None
        name, _, argument = guest.pending_action.partition(":")
        factories: dict[str, Callable[[], Operation]] = {
            "disable": lambda: self.disabling(DisabledReason(argument or "manual")), "enable": self.enabling,
            "extend": lambda: self.extending(datetime.fromisoformat(argument)),
            "reinvite": lambda: self.reinviting(self._settings.invite_redirect_url), "delete": self.deleting,
            "restore": self.restoring, "purge": self.purging}
        try:
            return factories[name]() if name in factories else None
        except ValueError:  # an intent this version cannot read (e.g. a date out of range): left to an operator
            log.warning("unreadable pending action on %s: %r", guest.id, guest.pending_action)
            return None

    async def _claim(self, operation: Operation, guest: Guest) -> Guest:
        if not guest.pending_action:
            return await self._records.save(guest.begin(operation.intent, self._clock()))
        pending = self.pending(guest)  # the same operation, left unfinished (e.g. storage failed after Graph): resume it
        if pending is None or pending.intent != operation.intent:
            raise Conflict(f"another operation ({guest.pending_action}) is in progress on this guest",
                           code="OperationInProgress")
        return guest

    async def _execute(self, operation: Operation, guest: Guest) -> OperationResult:
        intent = await self._claim(operation, guest)
        try:
            graph_result = await operation.graph(intent) if operation.graph else None
        except LifecycleError:
            await self._records.update(intent, lambda g: g.end(operation.intent))
            raise
        now = self._clock()
        applied = False  # whether this run's write ended the operation (another worker resuming it may have)

        def finish(current: Guest) -> Guest:
            nonlocal applied
            applied = current.pending_action == operation.intent
            return operation.transition(current.end(operation.intent), now) if applied else current

        final = await self._records.update(intent, finish, operation.event)
        return OperationResult(final, changed=applied, graph_result=graph_result)


"""Lifecycle operations on a tracked guest: disable, enable, extend, re-invite, delete, restore.

Each one: refuse non-guests (checked in Graph), stay idempotent (a repeat changes nothing and writes nothing to
Graph), record the intent before the Graph write and the outcome after it, both ETag-guarded. A request for one
operation while another is recorded as pending finishes the pending one first and answers 409: the record never
contradicts what Graph was already told."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lifecycle.config import Settings, Tuning
from lifecycle.domain import events
from lifecycle.domain.drift import drift
from lifecycle.domain.model import SWEEP_REASONS, DisabledReason, Guest, GuestState
from lifecycle.errors import (
    Conflict,
    Forbidden,
    GraphNotFound,
    LifecycleError,
    NotFound,
    OutcomeUnknown,
    outcome_unknown,
)
from lifecycle.logs import get_logger
from lifecycle.ports import Directory, DirectoryUser
from lifecycle.services.audit import Audit
from lifecycle.services.directory_view import directory_view
from lifecycle.services.records import GuestRecords

log = get_logger("lifecycle")
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
    # Whether Graph shows the write made, from the user read back (None: not in the directory); None when reading
    # cannot tell (a re-invite's new link is lost with its answer).
    observed: Callable[[DirectoryUser | None], bool] | None = None
    # What the event carries besides the record, from the Graph write's result (a re-invite's new link).
    event_data: Callable[[Any], dict[str, Any]] | None = None


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
                         lambda g, now: g.disable(now, reason), self._block, events.DISABLED, observed=_blocked)

    def enabling(self) -> Operation:
        return Operation("enable", "enable", lambda g: g.is_live, lambda g, now: g.enable(now), self._unblock,
                         events.ENABLED, observed=_unblocked)

    def extending(self, expires_at: datetime) -> Operation:
        def transition(guest: Guest, now: datetime) -> Guest:
            extended = guest.extend(now, expires_at)
            return extended.enable(now) if extended.disabled_reason in SWEEP_REASONS else extended

        def needs_enable(guest: Guest) -> bool:
            return guest.state is GuestState.DISABLED and guest.disabled_reason in SWEEP_REASONS

        async def graph(guest: Guest) -> None:
            if needs_enable(guest):
                await self._unblock(guest)

        return Operation("extend", f"extend:{expires_at.isoformat()}",
                         lambda g: g.expires_at == expires_at and not needs_enable(g), transition, graph,
                         events.EXTENDED, observed=_unblocked)

    def reinviting(self, redirect_url: str) -> Operation:
        async def graph(guest: Guest) -> str:
            invitation = await self._directory.reset_redemption(guest.id, guest.email, redirect_url)
            return invitation.redeem_url

        return Operation("reinvite", "reinvite", lambda g: False, lambda g, now: g.reinvited(now), graph,
                         events.REINVITED, event_data=_redeem_link)

    def deleting(self) -> Operation:
        return Operation("delete", "delete", lambda g: g.is_removed,
                         lambda g, now: g.delete(now), self._delete_in_graph, events.DELETED,
                         observed=lambda user: user is None)

    def restoring(self) -> Operation:
        return Operation("restore", "restore", lambda g: g.is_tracked,
                         lambda g, now: g.restore(now), self._restore_in_graph, events.RESTORED, in_deleted_items=True,
                         observed=lambda user: user is not None)

    def purging(self) -> Operation:
        return Operation("purge", "purge", lambda g: g.state is GuestState.PURGED, lambda g, now: g.purge(now), None,
                         events.PURGED)

    async def _delete_in_graph(self, guest: Guest) -> None:
        try:
            await self._directory.delete_user(guest.id)
        except GraphNotFound:
            log.info("delete: the guest is no longer in the directory; nothing to delete", guestId=guest.id)

    async def _restore_in_graph(self, guest: Guest) -> None:
        try:
            await self._directory.restore_user(guest.id)
        except GraphNotFound:
            if await self._directory.get_user(guest.id) is None:
                raise NotFound("the user is no longer in deleted items (deleted over 30 days ago or purged)",
                               code="NotRestorable") from None

    # --- running one -----------------------------------------------------------------------------
    async def run(self, operation: Operation, guest_id: str, actor: str, *, known_user: DirectoryUser | None = None,
                  record: Guest | None = None, evidence: dict[str, Any] | None = None) -> OperationResult:
        """Run `operation` on the guest. `record` is the guest as the caller read it (the sweep, which planned from
        it): the intent is then written guarded by its ETag, so a guest changed since is a ConcurrencyConflict, never
        acted on from stale data. Without it the record is read first. Without `known_user` (the sweep's directory
        pass), the user is read from Graph first and the record set against it (`as_graph_shows`), so an operation
        never decides, or answers "unchanged", from a record Graph contradicts. `evidence` (the sweep's, an
        approved plan's) is written into the audit entry: why the operation was run."""
        details = {"evidence": evidence} if evidence else {}
        async with self._audit.audited(actor, f"guest.{operation.name}", guest_id, **details) as notes:
            guest = record if record is not None and record.id == guest_id else await self._records.load(guest_id)
            if guest.is_busy_with_other_than(operation.intent):
                await self._resume_then_refuse(guest, actor, known_user)
            user = known_user
            if known_user is None:
                user = await self._directory.get_user(guest.id)
                guest = await self.as_graph_shows(guest, user, actor)
            if operation.done(guest) and guest.pending_action != operation.intent:
                notes["outcome"] = "unchanged"
                return OperationResult(guest, changed=False)
            operation.transition(guest, self._clock())  # refuse an impossible change before any write
            if known_user is None:
                await self._verify_guest(guest, user, operation.in_deleted_items)
            result = await self._execute(operation, guest)
            notes["state"] = result.guest.state.value
        return result

    async def as_graph_shows(self, guest: Guest, user: DirectoryUser | None, actor: str) -> Guest:
        """The record set against what Graph shows of its user (`user`, read just now; None: not in the directory):
        unchanged when they agree, else changed to say what Graph shows, audited as found outside the app, with its
        event. A user who is no longer a guest is left to `_verify_guest` (refused, never recorded)."""
        if user is not None and not user.is_guest:
            return guest
        found = drift(guest, directory_view(user), self._clock())
        if found is None:
            return guest
        async with self._audit.audited(actor, "guest.refresh", guest.id, found=found.kind):
            return await self._records.update(guest, found.transition, found.event)

    async def _verify_guest(self, guest: Guest, user: DirectoryUser | None, in_deleted_items: bool) -> None:
        """Refuse an operation on a user Graph does not hold where it must be (404), or that is not a guest (403)."""
        if in_deleted_items:
            user = await self._directory.get_deleted_user(guest.id)
        if user is None:
            where = "deleted items" if in_deleted_items else "the directory"
            raise NotFound(f"the user '{guest.id}' is not in {where}", code="GuestNotInDirectory")
        if not user.is_guest:
            raise Forbidden("the user is not a guest; only guests are changed", code="NotAGuest")

    async def _settle_unknown(self, operation: Operation, intent: Guest, error: LifecycleError) -> None:
        """The write may have been carried out (Graph answered 5xx, or the connection dropped after sending): the
        intent stays recorded and Graph is read back. Returns when Graph shows the write made (the caller records
        the outcome); else raises OutcomeUnknown, the intent kept for a repeat of the request or the sweep's repair,
        which finish it (every Graph write of an operation is idempotent)."""
        try:
            user = await self._directory.get_user(intent.id)
        except LifecycleError:
            user, readable = None, False
        else:
            readable = True
        if readable and operation.observed is not None and operation.observed(user):
            log.info("Graph's answer was unclear; reading back shows it done", operation=operation.name,
                     guestId=intent.id, graphStatus=getattr(error, "graph_status", None))
            return
        raise OutcomeUnknown(
            f"Graph did not say whether the {operation.name} was carried out ({error.message}); the guest's record "
            f"keeps it pending: repeat the request (it is idempotent), or the next sweep finishes it",
            retry_after=getattr(error, "retry_after", None), details=[{"pendingAction": operation.intent}]) from error

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
            log.warning("unreadable pending action", guestId=guest.id, pendingAction=guest.pending_action)
            return None

    async def _claim(self, operation: Operation, guest: Guest) -> Guest:
        if not guest.pending_action:
            return await self._records.save(guest.begin(operation.intent, self._clock()))
        # the same operation, left unfinished (e.g. storage failed after Graph): resume it
        pending = self.pending(guest)
        if pending is None or pending.intent != operation.intent:
            raise Conflict(f"another operation ({guest.pending_action}) is in progress on this guest",
                           code="OperationInProgress")
        return guest

    async def _execute(self, operation: Operation, guest: Guest) -> OperationResult:
        intent = await self._claim(operation, guest)
        try:
            graph_result = await operation.graph(intent) if operation.graph else None
        except LifecycleError as exc:
            if not outcome_unknown(exc):  # Graph refused, or never got the write: the intent ends here
                await self._records.update(intent, lambda g: g.end(operation.intent))
                raise
            await self._settle_unknown(operation, intent, exc)
            graph_result = None
        now = self._clock()
        applied = False  # whether this run's write ended the operation (another worker resuming it may have)

        def finish(current: Guest) -> Guest:
            nonlocal applied
            applied = current.pending_action == operation.intent
            return operation.transition(current.end(operation.intent), now) if applied else current

        data = operation.event_data(graph_result) if operation.event_data else None
        final = await self._records.update(intent, finish, operation.event, data)
        return OperationResult(final, changed=applied, graph_result=graph_result)


def _redeem_link(url: Any) -> dict[str, Any]:
    """guest.reinvited's new link (for a flow's own mail); lost when Graph's answer was (its outcome unknown)."""
    if isinstance(url, str) and url:
        return {"inviteRedeemUrl": url}
    return {"inviteRedeemUrl": None, "redeemUrlLost": True}


def _blocked(user: DirectoryUser | None) -> bool:
    return user is not None and user.account_enabled is False


def _unblocked(user: DirectoryUser | None) -> bool:
    return user is not None and user.account_enabled is True

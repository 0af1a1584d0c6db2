"""Finishing the Graph side of a record: pending group adds and removals, pending attribute writes.

The record always says what is wanted before Graph is called (for a record still being created, the email claim
holding the invite command says it), so whatever fails here is finished later by the expiry sweep's repair pass.
Every caller (the request that recorded the work, a poll, the sweep) comes through `Provisioner.finish` or, for an
invite creating its record, `Provisioner.write_while_recording`; both enforce the safety rules right before writing:
only a user whom Graph says is a guest is written to, only groups that are managed now are changed, and a guest is
added to a group only while the domain lists admit every one of its addresses. Work that breaks a rule is dropped,
audited, never written."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import Guest
from lifecycle.errors import GraphRejectedInput
from lifecycle.logs import get_logger
from lifecycle.ports import AuditEntry, ChangeOutcome, Directory, DirectoryUser, UserChanges
from lifecycle.request_log import collect_request_ids
from lifecycle.services.audit import Audit
from lifecycle.services.graph_results import Result, is_lagging, merged, result_of
from lifecycle.services.records import GuestRecords

ACTOR = "provisioning"
NOT_A_GUEST = "the user is not a guest in the directory; pending group and attribute changes were dropped"
NOT_VISIBLE = "the user is not visible in the directory yet; the pending work is retried later"
log = get_logger("lifecycle.provisioning")


@dataclass(frozen=True)
class Written:
    """The Graph changes made for a record while it was being created (`Provisioner.write_while_recording`), still
    to be recorded on it: `wanting` is the record as it asked for them."""
    wanting: Guest
    result: Result


class Provisioner:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._policy = settings.access_policy
        self._tuning = tuning
        self._clock = clock

    async def finish(self, guest: Guest, known_user: DirectoryUser | None = None, *, actor: str = ACTOR) -> Guest:
        """Apply what the record wants in Graph and record what was done, each change audited in `actor`'s name (a
        poll's caller, the sweep). A group that refuses the guest for good is recorded as failed (no longer pending)
        and audited.

        `known_user` is the user as the caller read it from Graph during this request (or the invitation Graph just
        created); without it the user is read here. Nothing is written unless that user is a guest."""
        with collect_request_ids() as request_ids:
            finished, result = await self._finish(guest, known_user)
        await self._audit_done(actor, guest, result, tuple(request_ids))
        for group_id, error in result.refused:
            await self._audit_refusal(finished, group_id, error)
        return finished

    async def finish_for_caller(self, guest: Guest, known_user: DirectoryUser | None = None,
                                written: Written | None = None) -> Guest:
        """`finish` for a request: a group's final refusal is recorded, then raised (422 with Graph's reason).
        With `written`, the work was made while the record was created: it is only recorded, with the record's
        ETag, and what else the stored record wants is left to the next caller or the sweep."""
        if written is not None:
            finished, result = await self._record_done(guest, written.wanting, written.result), written.result
        else:
            finished, result = await self._finish(guest, known_user)
        if result.refused:
            group_id, error = result.refused[0]
            error.details.append({"guestId": finished.id, "groupId": group_id})
            raise error
        return finished

    async def _audit_done(self, actor: str, wanting: Guest, result: Result, request_ids: tuple[str, ...]) -> None:
        """One audit entry per change Graph accepted for the record `wanting` it: each group added or removed, the
        attributes written."""
        done: list[tuple[str, dict[str, Any]]] = [("group.add", {"groupId": g}) for g in result.added]
        done += [("group.remove", {"groupId": g}) for g in result.removed]
        if result.attributes_written:
            done.append(("guest.attributes", {"attributes": sorted(wanting.pending_attributes)}))
        for action, details in done:
            await self._audit.record(AuditEntry(actor=actor, action=action, target=wanting.id, outcome="succeeded",
                                                at=self._clock(), graph_request_ids=request_ids,
                                                details={**details, "finished": "pending work"}))

    async def _audit_refusal(self, guest: Guest, group_id: str, error: GraphRejectedInput) -> None:
        action = "group.remove" if group_id in guest.groups else "group.add"
        await self._audit.record(AuditEntry(actor="lifecycle", action=action, target=guest.id,
                                            outcome=f"failed: {error.code}", at=self._clock(),
                                            details={"groupId": group_id, "error": error.message}))

    async def _finish(self, guest: Guest, known_user: DirectoryUser | None) -> tuple[Guest, Result]:
        if not guest.has_pending_graph_work or guest.is_removed:
            return guest, Result()
        guest = await self._drop_unmanaged_groups(guest)
        if not guest.has_pending_graph_work:
            return guest, Result()
        user = known_user if known_user is not None else await self._directory.get_user(guest.id)
        if user is None:
            return await self._note(guest, NOT_VISIBLE), Result()
        if not user.is_guest:
            return await self._drop_all(guest), Result()
        if guest.pending_groups and (refusal := self._policy.address_refusal(user.own_addresses)):
            guest = await self._drop_adds(guest, refusal)
            if not guest.has_pending_graph_work:
                return guest, Result()
        result = await self._write(guest)
        return await self._record_done(guest, guest, result), result

    async def write_while_recording(self, wanting: Guest, user: DirectoryUser) -> Written | None:
        """Make the Graph changes of a record that is being created at the same time, for a caller whose durable
        write-ahead record of this same work is stored already: the email claim holds the whole invite command,
        and a claim left unlinked by a crash is finished from that command (`InvitationService.resolve_stale_claim`,
        by the sweep or the next request for the email). The rules are checked as `finish` checks them; when one
        needs the stored record (the user is not a guest, a group is not managed) nothing is written and None is
        returned, for `finish_for_caller` to drop the work on the stored record."""
        unmanaged = any(not self._policy.is_managed(g) for g in wanting.pending_groups + wanting.removing_groups)
        refused = bool(wanting.pending_groups) and bool(self._policy.address_refusal(user.own_addresses))
        if not wanting.has_pending_graph_work or wanting.is_removed or unmanaged or refused or not user.is_guest:
            return None
        return Written(wanting, await self._write(wanting))

    async def _write(self, guest: Guest) -> Result:
        """Every pending write of the record in one go (`Directory.apply_changes`), each read as its result."""
        changes = UserChanges(guest.id, guest.pending_groups, guest.removing_groups, dict(guest.pending_attributes))
        return merged([result_of(guest.id, outcome) for outcome in await self._apply_through_lag(changes)])

    async def _apply_through_lag(self, changes: UserChanges) -> list[ChangeOutcome]:
        """Apply the writes; the adds and the attribute write that Graph answers GraphNotFound (right after an
        invitation: the new user is not replicated yet) are applied again after `lag_first_delay`, each delay twice
        the one before (at most 2 s), while a retry starts within `lag_retry_seconds` of the first attempt."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._tuning.lag_retry_seconds
        delay = self._tuning.lag_first_delay
        outcomes = {outcome.change: outcome for outcome in await self._directory.apply_changes(changes)}
        while (lagging := [o.change for o in outcomes.values() if is_lagging(o)]) and loop.time() + delay <= deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            outcomes.update((o.change, o) for o in await self._directory.apply_changes(changes.only(lagging)))
        return list(outcomes.values())

    async def _record_done(self, guest: Guest, wanting: Guest, result: Result) -> Guest:
        """Record on `guest` what Graph accepted (and finally refused) of the work `wanting` asked for."""
        now = self._clock()

        def record(current: Guest) -> Guest:
            updated = current.groups_added(now, tuple(g for g in result.added if g in current.pending_groups))
            for group_id in result.removed:
                if group_id in updated.removing_groups:
                    updated = updated.group_removed(now, group_id)
            if result.attributes_written and current.pending_attributes == wanting.pending_attributes:
                updated = updated.attributes_written(now)
            refused = {group_id for group_id, _ in result.refused}
            if refused & {*updated.pending_groups, *updated.removing_groups}:
                updated = replace(updated, pending_groups=tuple(g for g in updated.pending_groups if g not in refused),
                                  removing_groups=tuple(g for g in updated.removing_groups if g not in refused),
                                  updated_at=now)
            error = "; ".join(result.errors)[:2000]
            return updated if updated.last_error == error else replace(updated, last_error=error, updated_at=now)

        return await self._records.update(guest, record)

    async def _drop_unmanaged_groups(self, guest: Guest) -> Guest:
        """Pending adds and removals of groups this app no longer manages are dropped, never written."""
        policy = self._policy
        unmanaged = sorted({g for g in guest.pending_groups + guest.removing_groups if not policy.is_managed(g)})
        if not unmanaged:
            return guest
        now = self._clock()

        def drop(current: Guest) -> Guest:
            return replace(current, pending_groups=tuple(g for g in current.pending_groups if policy.is_managed(g)),
                           removing_groups=tuple(g for g in current.removing_groups if policy.is_managed(g)),
                           updated_at=now)

        async with self._audit.audited(ACTOR, "group.dropped", guest.id, groups=unmanaged,
                                         reason="GroupNotManaged") as notes:
            dropped = await self._records.update(guest, drop)
            notes["outcome"] = "dropped"
        log.warning("dropped pending work on unmanaged groups", user=guest.id, groups=unmanaged)
        return dropped

    async def _drop_all(self, guest: Guest) -> Guest:
        """The user is no longer a guest (converted to a member): its pending Graph work is dropped, never written."""
        now = self._clock()

        def drop(current: Guest) -> Guest:
            return replace(current, pending_groups=(), removing_groups=(), pending_attributes={},
                           last_error=NOT_A_GUEST, updated_at=now)

        async with self._audit.audited(ACTOR, "guest.work.dropped", guest.id, reason="NotAGuest",
                                         groups=list(guest.pending_groups + guest.removing_groups),
                                         attributes=sorted(guest.pending_attributes)) as notes:
            dropped = await self._records.update(guest, drop)
            notes["outcome"] = "dropped"
        return dropped

    async def _drop_adds(self, guest: Guest, refusal: str) -> Guest:
        """The domain lists refuse an address of the guest: its pending group adds are dropped, never written (its
        removals and attribute writes go on)."""
        now, reason = self._clock(), f"{refusal}; pending group adds were dropped"

        def drop(current: Guest) -> Guest:
            return replace(current, pending_groups=(), last_error=reason, updated_at=now)

        async with self._audit.audited(ACTOR, "group.dropped", guest.id, groups=list(guest.pending_groups),
                                         reason="DomainNotAllowed") as notes:
            dropped = await self._records.update(guest, drop)
            notes["outcome"] = "dropped"
        return dropped

    async def _note(self, guest: Guest, error: str) -> Guest:
        now = self._clock()
        return await self._records.update(
            guest, lambda g: g if g.last_error == error else replace(g, last_error=error, updated_at=now))

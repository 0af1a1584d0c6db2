"""Finishing the Graph side of a record: pending group adds and removals, pending attribute writes.

The record always says what is wanted before Graph is called, so whatever fails here is finished later by the
expiry sweep's repair pass."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from lifecycle.domain.model import Guest, GuestState
from lifecycle.errors import GraphError, GraphNotFound, GraphRejectedInput, LifecycleError
from lifecycle.ports import AuditEntry
from lifecycle.services.context import Context, log, with_lag_retry


@dataclass(frozen=True)
class Result:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    attributes_written: bool = False
    errors: tuple[str, ...] = ()
    refused: tuple[tuple[str, GraphRejectedInput], ...] = ()  # (group id, Graph's final refusal)


class Provisioner:
    def __init__(self, context: Context) -> None:
        self._context = context

    async def finish(self, guest: Guest) -> Guest:
        """Apply what the record wants in Graph and record what was done. A group that refuses the guest for good
        is recorded as failed (no longer pending) and audited."""
        finished, refused = await self._finish(guest)
        for group_id, error in refused:
            await self._audit_refusal(finished, group_id, error)
        return finished

    async def finish_for_caller(self, guest: Guest) -> Guest:
        """`finish` for a request: a group's final refusal is recorded, then raised (422 with Graph's reason)."""
        finished, refused = await self._finish(guest)
        if refused:
            group_id, error = refused[0]
            error.details.append({"guestId": finished.id, "groupId": group_id})
            raise error
        return finished

    async def _audit_refusal(self, guest: Guest, group_id: str, error: GraphRejectedInput) -> None:
        action = "group.remove" if group_id in guest.groups else "group.add"
        entry = AuditEntry(actor="lifecycle", action=action, target=guest.id, outcome=f"failed: {error.code}",
                           at=self._context.clock(), details={"groupId": group_id, "error": error.message})
        try:
            await self._context.audit.record(entry)
        except LifecycleError:
            log.error("audit write failed: %s %s %s refused", action, guest.id, group_id)

    async def _finish(self, guest: Guest) -> tuple[Guest, tuple[tuple[str, GraphRejectedInput], ...]]:
        if not guest.has_unfinished_work or guest.state in (GuestState.DELETED, GuestState.PURGED):
            return guest, ()
        adds = [self._add(g, guest.id) for g in guest.pending_groups]
        removes = [self._remove(g, guest.id) for g in guest.removing_groups]
        outcomes = await asyncio.gather(*adds, *removes, self._attributes(guest))
        result = _merge(outcomes)
        now = self._context.clock()

        def record(current: Guest) -> Guest:
            updated = current.groups_added(now, tuple(g for g in result.added if g in current.pending_groups))
            for group_id in result.removed:
                if group_id in updated.removing_groups:
                    updated = updated.group_removed(now, group_id)
            if result.attributes_written and current.pending_attributes == guest.pending_attributes:
                updated = updated.attributes_written(now)
            refused = {group_id for group_id, _ in result.refused}
            if refused & {*updated.pending_groups, *updated.removing_groups}:
                updated = replace(updated, pending_groups=tuple(g for g in updated.pending_groups if g not in refused),
                                  removing_groups=tuple(g for g in updated.removing_groups if g not in refused),
                                  updated_at=now)
            error = "; ".join(result.errors)[:2000]
            return updated if updated.last_error == error else replace(updated, last_error=error, updated_at=now)

        return await self._context.update(guest, record), result.refused

    async def _add(self, group_id: str, user_id: str) -> Result:
        directory = self._context.directory
        try:
            await with_lag_retry(self._context, lambda: directory.add_member(group_id, user_id), GraphNotFound)
        except GraphRejectedInput as exc:
            log.warning("group add refused: group=%s user=%s: %s", group_id, user_id, exc.message)
            return Result(errors=(f"add to {group_id} refused: {exc.message}",), refused=((group_id, exc),))
        except LifecycleError as exc:
            log.warning("group add pending: group=%s user=%s: %s", group_id, user_id, exc.message)
            return Result(errors=(f"add to {group_id}: {exc.message}",))
        return Result(added=(group_id,))

    async def _remove(self, group_id: str, user_id: str) -> Result:
        try:
            await self._context.directory.remove_member(group_id, user_id)
        except GraphNotFound:
            return Result(removed=(group_id,))  # the group itself is gone: no membership is left
        except GraphRejectedInput as exc:
            return Result(errors=(f"remove from {group_id} refused: {exc.message}",), refused=((group_id, exc),))
        except LifecycleError as exc:
            return Result(errors=(f"remove from {group_id}: {exc.message}",))
        return Result(removed=(group_id,))

    async def _attributes(self, guest: Guest) -> Result:
        if not guest.pending_attributes:
            return Result()
        directory = self._context.directory
        fields = dict(guest.pending_attributes)
        try:
            await with_lag_retry(self._context, lambda: directory.update_user(guest.id, fields), GraphNotFound)
        except (GraphError, LifecycleError) as exc:
            return Result(errors=(f"attributes: {exc.message}",))
        return Result(attributes_written=True)


def _merge(results: list[Result]) -> Result:
    return Result(
        added=tuple(g for r in results for g in r.added), removed=tuple(g for r in results for g in r.removed),
        attributes_written=any(r.attributes_written for r in results),
        errors=tuple(e for r in results for e in r.errors), refused=tuple(x for r in results for x in r.refused))

"""The audit trail as the services write it: one entry per mutation, with its actor, action, target, outcome and
the Graph request ids of the calls made for it. A failed audit write is logged; it never fails the operation."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from lifecycle.errors import LifecycleError
from lifecycle.logs import get_logger
from lifecycle.ports import AuditEntry, AuditLog, AuditPage
from lifecycle.request_log import collect_request_ids

log = get_logger("lifecycle")


class Audit:
    def __init__(self, entries: AuditLog, clock: Callable[[], datetime]) -> None:
        self._entries = entries
        self._clock = clock

    @asynccontextmanager
    async def audited(self, actor: str, action: str, target: str, **details: Any) -> AsyncIterator[dict[str, Any]]:
        """Record one entry for the operation inside, with its outcome and Graph request ids. The block may set
        `outcome` (default `succeeded`) and `target` in the notes it is given, and add details; a LifecycleError
        it raises is recorded as `failed: <code>` and raised on. Raises nothing of its own."""
        notes: dict[str, Any] = dict(details)
        with collect_request_ids() as request_ids:
            try:
                yield notes
            except LifecycleError as exc:
                await self._write(actor, action, notes.get("target", target), f"failed: {exc.code}",
                                  request_ids, {**notes, "error": exc.message})
                raise
            await self._write(actor, action, notes.get("target", target), notes.pop("outcome", "succeeded"),
                              request_ids, notes)

    async def record(self, entry: AuditEntry) -> None:
        """Append an entry made by the caller; a failed write is logged, never raised."""
        try:
            await self._entries.record(entry)
        except LifecycleError:
            log.error("audit write failed", actor=entry.actor, action=entry.action, target=entry.target,
                      outcome=entry.outcome)

    async def entries_for(self, target: str) -> list[AuditEntry]:
        """The target's entries, oldest first; raises StorageUnavailable when the audit log cannot be read."""
        return await self._entries.entries_for(target)

    async def history(self, target: str, page_size: int, continuation_token: str | None = None) -> AuditPage:
        """A page of the target's entries, newest first; raises StorageUnavailable, InvalidRequest (a token)."""
        return await self._entries.history(target, page_size, continuation_token)

    async def _write(self, actor: str, action: str, target: str, outcome: str, request_ids: list[str],
                     details: dict[str, Any]) -> None:
        await self.record(AuditEntry(actor=actor, action=action, target=target, outcome=outcome, at=self._clock(),
                                     graph_request_ids=tuple(request_ids), details=details))

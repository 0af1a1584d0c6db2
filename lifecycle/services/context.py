"""What every service needs: the ports, the settings-derived policy, tuning, a clock, and the audit helper."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lifecycle.config import Settings
from lifecycle.domain.model import Guest, utcnow
from lifecycle.domain.policy import AccessPolicy
from lifecycle.errors import ConcurrencyConflict, LifecycleError, NotFound
from lifecycle.domain.events import guest_event
from lifecycle.ports import AuditEntry, AuditLog, Directory, GuestStore
from lifecycle.request_log import collect_request_ids, committed

log = logging.getLogger("lifecycle")


@dataclass(frozen=True)
class Tuning:
    """Timings that are not deployment settings."""

    claim_wait_seconds: float = 15.0  # how long a request waits for a concurrent invite of the same email
    claim_poll_seconds: float = 0.25
    claim_stale_seconds: float = 120.0  # an `inviting` claim older than this is taken over (its owner died)
    lag_retry_seconds: float = 8.0  # how long a write on a just-invited user is retried while Graph replicates
    lag_first_delay: float = 0.25
    save_attempts: int = 5  # optimistic-concurrency retries for bookkeeping writes
    action_stale_seconds: float = 600.0  # a recorded Graph action older than this is resumed by the sweep
    idempotency_lease_seconds: float = 30.0  # an Idempotency-Key in progress and not renewed for this long lapses
    graph_retry_attempts: int = 6  # attempts per Graph call when Graph throttles (429) or is unavailable (503/504)
    graph_retry_budget_seconds: float = 30.0


@dataclass
class Context:
    settings: Settings
    store: GuestStore
    directory: Directory
    audit: AuditLog
    tuning: Tuning = field(default_factory=Tuning)
    clock: Callable[[], datetime] = utcnow

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(self.settings.allowed_email_domains, self.settings.blocked_email_domains,
                            self.settings.managed_groups)

    async def load(self, guest_id: str) -> Guest:
        guest = await self.store.get(guest_id)
        if guest is None:
            raise NotFound(f"no tracked guest with id '{guest_id}'", code="GuestNotFound")
        return guest

    async def update(self, guest: Guest, change: Callable[[Guest], Guest], event: str | None = None) -> Guest:
        """Apply an idempotent change, re-reading and re-applying it when another writer won. `event` (a type)
        is written to the outbox with the change, describing the changed record."""
        for _ in range(self.tuning.save_attempts):
            changed = change(guest)
            if changed == guest:
                return guest
            events = [guest_event(event, changed, self.clock())] if event else []
            try:
                saved = await self.store.save(changed, events)
            except ConcurrencyConflict:
                guest = await self.load(guest.id)
                continue
            committed(events)
            return saved
        raise ConcurrencyConflict("the guest keeps changing; retry later")

    @asynccontextmanager
    async def audited(self, actor: str, action: str, target: str, **details: Any) -> AsyncIterator[dict[str, Any]]:
        """Record one audit entry for the operation inside, with its outcome and Graph request ids."""
        notes: dict[str, Any] = dict(details)
        with collect_request_ids() as request_ids:
            try:
                yield notes
            except LifecycleError as exc:
                await self._audit(actor, action, notes.get("target", target), f"failed: {exc.code}",
                                  request_ids, {**notes, "error": exc.message})
                raise
            await self._audit(actor, action, notes.get("target", target), notes.pop("outcome", "succeeded"),
                              request_ids, notes)

    async def _audit(self, actor: str, action: str, target: str, outcome: str, request_ids: list[str],
                     details: dict[str, Any]) -> None:
        entry = AuditEntry(actor=actor, action=action, target=target, outcome=outcome, at=self.clock(),
                           graph_request_ids=tuple(request_ids), details=details)
        try:
            await self.audit.record(entry)
        except LifecycleError:
            log.error("audit write failed: %s %s %s %s", actor, action, target, outcome)


async def with_lag_retry(context: Context, operation: Callable[[], Awaitable[None]],
                         retriable: type[Exception]) -> None:
    """Retry a write that fails only because Graph has not replicated a new object yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + context.tuning.lag_retry_seconds
    delay = context.tuning.lag_first_delay
    while True:
        try:
            return await operation()
        except retriable:
            if loop.time() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

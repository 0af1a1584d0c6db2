"""Taking one planned action, as the sweep and an approved plan both do: the operation a disable, delete or purge
runs (services/operations.py), and the `guest.expiring` notice, each audited with its evidence."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from lifecycle.domain import events
from lifecycle.domain.model import Guest
from lifecycle.domain.planning import Action, ActionKind, Reason
from lifecycle.services.audit import Audit
from lifecycle.services.operations import GuestOperations, Operation
from lifecycle.services.records import GuestRecords


def operation_for(operations: GuestOperations, action: Action) -> Operation:
    """The operation of a disable, delete or purge (a notice is no operation: `send_notice`)."""
    if action.kind is ActionKind.DISABLE:
        return operations.disabling(action.disabled_reason)
    if action.kind is ActionKind.DELETE:
        return operations.deleting()
    if action.kind is ActionKind.PURGE:
        return operations.purging()
    raise ValueError(f"{action.kind.value} is not an operation")


async def send_notice(records: GuestRecords, audit: Audit, actor: str, guest: Guest, now: datetime,
                      evidence: dict[str, Any], action: Action | None = None, grace_days: int = 0) -> int:
    """Send the notice of `action` once (with the record change that says it was sent), audited with its evidence:
    1 when sent now, 0 when it had been. `guest.expiring` (expiry near), `guest.attestation-due` (once per
    attestation period, with the sponsor page) or `guest.unsponsored` (once, to LIFECYCLE_FALLBACK_NOTIFY)."""
    reason = action.reason if action is not None else Reason.EXPIRED
    if reason is Reason.UNATTESTED:
        start = guest.attestation_start()

        def noted(g: Guest) -> Guest:
            sent = g.attestation_notice_at
            return g if sent is not None and sent > g.attestation_start() else replace(
                g, attestation_notice_at=now, updated_at=now)
        sent = guest.attestation_notice_at
        if sent is not None and sent > start:
            return 0
        due = action.since.isoformat() if action is not None else None
        kind, data = events.ATTESTATION_DUE, {"dueAt": due, "portal": events.PORTAL_PATH}
    elif reason is Reason.UNSPONSORED:
        if guest.unsponsored_at is not None:
            return 0

        def noted(g: Guest) -> Guest:
            return g if g.unsponsored_at is not None else replace(g, unsponsored_at=now, updated_at=now)
        kind = events.UNSPONSORED
        data = {"disableAfter": (now + timedelta(days=grace_days)).isoformat()}
        if records.fallback_notify:
            data["fallbackNotify"] = records.fallback_notify
    else:
        if guest.notice_sent_at is not None:
            return 0

        def noted(g: Guest) -> Guest:
            return replace(g, notice_sent_at=now, updated_at=now) if g.notice_sent_at is None else g
        kind, data = events.EXPIRING, {}
    async with audit.audited(actor, "guest.notify", guest.id, evidence=evidence):
        await records.update(guest, noted, kind, data)
    return 1

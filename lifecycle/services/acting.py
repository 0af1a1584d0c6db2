"""Taking one planned action, as the sweep and an approved plan both do: the operation a disable, delete or purge
runs (services/operations.py), and the `guest.expiring` notice, each audited with its evidence."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from lifecycle.domain import events
from lifecycle.domain.model import Guest
from lifecycle.domain.planning import Action, ActionKind
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
                      evidence: dict[str, Any]) -> int:
    """Send `guest.expiring` once (with the record change that says it was sent), audited with its evidence:
    1 when sent now, 0 when it had been."""
    if guest.notice_sent_at is not None:
        return 0
    async with audit.audited(actor, "guest.notify", guest.id, evidence=evidence):
        await records.update(
            guest, lambda g: replace(g, notice_sent_at=now, updated_at=now) if g.notice_sent_at is None else g,
            events.EXPIRING)
    return 1

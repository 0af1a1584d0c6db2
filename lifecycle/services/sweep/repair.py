"""Repair: operations left under way resumed, group and attribute work finished, invitations whose owner died
resolved. Each guest on its own: one failure is reported and the others go on."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import Guest, IndexKind
from lifecycle.services.invitations import InvitationService
from lifecycle.services.operations import GuestOperations
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords
from lifecycle.services.sweep.acting import ACTOR
from lifecycle.services.sweep.report import SweepReport, report_failure


class Repairer:
    def __init__(self, *, records: GuestRecords, settings: Settings, tuning: Tuning, operations: GuestOperations,
                 provisioner: Provisioner, invitations: InvitationService) -> None:
        self._records, self._settings, self._tuning = records, settings, tuning
        self._operations, self._provisioner, self._invitations = operations, provisioner, invitations

    async def repair(self, now: datetime, pending_operations: list[str], report: SweepReport) -> None:
        """Resume operations left under way (found in the records the survey read) and finish group and attribute
        work (found through its index), then resolve invitations whose owner died."""
        counts: Counter[str] = Counter()
        limit = self._settings.expiry_max_actions_per_run
        stale = now - timedelta(seconds=self._tuning.claim_stale_seconds)
        pending_work, stale_claims = await asyncio.gather(self._records.store.due(IndexKind.REPAIR, now, limit),
                                                          self._records.store.stale_claims(stale, limit))
        ids = list(dict.fromkeys([*pending_operations, *pending_work]))[:limit]
        for guest in await self._load_many(ids, report):
            await self._repair_guest(guest, report, counts)
        for claim in stale_claims:
            try:
                counts[f"claim {await self._invitations.resolve_stale_claim(claim)}"] += 1
            except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
                report_failure(report, claim.email, "resolve claim", exc)
        report.repaired = dict(counts)

    async def _load_many(self, ids: list[str], report: SweepReport) -> list[Guest]:
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 4)

        async def load(guest_id: str) -> Guest | None:
            async with slots:
                try:
                    return await self._records.get(guest_id)
                except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
                    report_failure(report, guest_id, "read", exc)
                    return None

        return [g for g in await asyncio.gather(*(load(i) for i in ids)) if g is not None]

    async def _repair_guest(self, guest: Guest, report: SweepReport, counts: Counter[str]) -> None:
        try:
            operation = self._operations.resumable(guest)
            if operation is not None:
                await self._operations.run(operation, guest.id, ACTOR)
                counts[f"resumed {operation.name}"] += 1
                guest = await self._records.load(guest.id)
            if guest.has_pending_graph_work:
                finished = await self._provisioner.finish(guest, actor=ACTOR)
                counts["groups finished" if not finished.pending_groups else "groups still pending"] += 1
        except Exception as exc:  # noqa: BLE001 - one bad record never stops the sweep
            report_failure(report, guest.id, "repair", exc)

"""The email claim's life: one request at a time invites an email.

A claim is the write-ahead record of an invitation: it is written before any Graph call of the invite and stores the
whole invite command, so an invitation whose request died is finished from it (by the next request for the email or
the sweep). It is linked to the record once the record is created, released only when nothing was created in Graph,
and abandoned (left stale at once) when that is unknown. Each step answers with an explicit outcome; only storage
failures and the end of the wait are raised."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from lifecycle.config import Tuning
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import ConcurrencyConflict, Conflict, LifecycleError, NotFound
from lifecycle.logs import get_logger
from lifecycle.services.records import GuestRecords

log = get_logger("lifecycle.claims")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # an abandoned claim's time: stale for everyone at once


@dataclass(frozen=True)
class Claimed:
    """This request holds the email: `claim` (with its ETag) is the invitation's write-ahead record."""
    claim: EmailClaim


@dataclass(frozen=True)
class AlreadyTracked:
    """The email's claim is linked to a record that is not removed: the guest is tracked already."""
    guest: Guest


@dataclass(frozen=True)
class HeldByAnother:
    """Another request holds the email (or changed its claim while it was read): wait, then look again."""
    claim: EmailClaim | None


@dataclass(frozen=True)
class Stale:
    """A claim whose owner died before linking it: its invitation is finished from its command first."""
    claim: EmailClaim


ClaimOutcome = Claimed | AlreadyTracked | HeldByAnother | Stale
FinishStale = Callable[[EmailClaim], Awaitable[object]]


class Left(StrEnum):
    """What became of a claim let go."""
    RELEASED = "released"  # deleted: the email is free
    ABANDONED = "abandoned"  # kept, stale at once: the next request or the sweep finishes its invitation
    UNCHANGED = "unchanged"  # the write failed: the claim stays as it was and goes stale by age


class EmailClaims:
    def __init__(self, *, records: GuestRecords, tuning: Tuning, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._store = records.store
        self._tuning = tuning
        self._clock = clock

    def fresh(self, command: InviteGuest) -> EmailClaim:
        """A new claim for the command, owned by a new owner id, not written yet."""
        return EmailClaim(email=command.email, owner=uuid.uuid4().hex, claimed_at=self._clock(),
                          request=command.to_stored())

    async def claim(self, command: InviteGuest, *, finish_stale: FinishStale) -> Claimed | AlreadyTracked:
        """Hold the command's email, or find its guest tracked. A new email (the common case) is claimed with one
        insert and no read. Otherwise the claim is read and acted on (`attempt`) until held or tracked: a stale
        claim is first finished by `finish_stale` (its owner's group adds may be in Graph already); a claim held by
        another request is polled every `claim_poll_seconds`. Raises Conflict (InviteInProgress) once
        `claim_wait_seconds` pass, StorageUnavailable, and what `finish_stale` raises except ConcurrencyConflict and
        NotFound (another request finished it first: the claim is read again)."""
        fresh = self.fresh(command)
        try:
            return Claimed(await self._store.claim_email(fresh))
        except ConcurrencyConflict:
            pass
        deadline = asyncio.get_running_loop().time() + self._tuning.claim_wait_seconds
        while True:
            match await self.attempt(fresh):
                case Claimed() | AlreadyTracked() as held:
                    return held
                case Stale(claim=stale) if await self._finished(stale, finish_stale):
                    continue  # read again at once: finishing it linked or released it
            if asyncio.get_running_loop().time() > deadline:
                raise Conflict("an invitation for this email is in progress; retry shortly", code="InviteInProgress")
            await asyncio.sleep(self._tuning.claim_poll_seconds)

    async def attempt(self, fresh: EmailClaim) -> ClaimOutcome:
        """One look at the email's claim, acted on: none → inserted (Claimed); linked to a live record →
        AlreadyTracked; linked to a removed or vanished record → taken over (Claimed); unlinked and older than
        `claim_stale_seconds` → Stale; otherwise, or when the claim changed under the write → HeldByAnother. Raises
        StorageUnavailable. Writes nothing unless it answers Claimed."""
        existing = await self._store.get_claim(fresh.email)
        try:
            if existing is None:
                return Claimed(await self._store.claim_email(fresh))
            if existing.is_linked:
                guest = await self._records.get(existing.guest_id)
                if guest is not None and not guest.is_removed:
                    return AlreadyTracked(guest)
                return Claimed(await self._store.take_over_claim(replace(fresh, etag=existing.etag)))
        except (ConcurrencyConflict, NotFound):  # another request changed or released the claim meanwhile
            return HeldByAnother(existing)
        if existing.is_stale(self._clock(), timedelta(seconds=self._tuning.claim_stale_seconds)):
            return Stale(existing)
        return HeldByAnother(existing)

    async def take_over(self, stale: EmailClaim) -> Claimed | HeldByAnother:
        """Own a stale claim (new owner, claimed now, its command kept), guarded by the ETag read: of the requests
        and sweeps that found it stale, one gets Claimed, the others HeldByAnother. Raises StorageUnavailable."""
        try:
            return Claimed(await self._store.take_over_claim(
                replace(stale, owner=uuid.uuid4().hex, claimed_at=self._clock())))
        except ConcurrencyConflict:
            return HeldByAnother(None)

    async def link(self, claim: EmailClaim, guest_id: str) -> EmailClaim:
        """Link the held claim to a record that exists already (another request created it). Raises
        ConcurrencyConflict when the claim changed since it was held, StorageUnavailable. Idempotent."""
        return await self._store.take_over_claim(replace(claim, guest_id=guest_id))

    async def release(self, claim: EmailClaim) -> Left:
        """Delete the held claim: only when nothing was created in Graph for it. Never raises: a failed delete
        leaves the claim (UNCHANGED) to go stale, and whoever finds it then releases it. Idempotent."""
        try:
            await self._store.release_claim(claim)
        except LifecycleError as exc:
            log.warning("could not release an email claim", owner=claim.owner, error=exc.message)
            return Left.UNCHANGED
        return Left.RELEASED

    async def abandon(self, claim: EmailClaim) -> Left:
        """Keep the held claim for the next request or the sweep, stale at once: used when it is unknown whether
        Graph created the user. Never raises: a failed write leaves the claim (UNCHANGED) to go stale by age.
        Idempotent."""
        try:
            await self._store.take_over_claim(replace(claim, claimed_at=LONG_AGO))
        except LifecycleError as exc:
            log.warning("could not mark an email claim abandoned", owner=claim.owner, error=exc.message)
            return Left.UNCHANGED
        return Left.ABANDONED

    @staticmethod
    async def _finished(stale: EmailClaim, finish_stale: FinishStale) -> bool:
        """Finish a stale claim's invitation; False when another request or the sweep is finishing it."""
        try:
            await finish_stale(stale)
        except (ConcurrencyConflict, NotFound):
            return False
        return True

"""Adoption: start tracking the guests that already exist in the directory (all, or the members of a group).

Adoption reads Graph and writes records; it never writes to Graph. Each adopted guest gets a record with the
event `guest.adopted` (not `guest.invited`: nobody was invited) and an audit entry. Running it again adopts
only the guests that are not tracked yet. A guest is skipped (reported, not tracked) when the domain lists refuse
one of its own addresses, or when the address its record would claim comes from its otherMails and a member owns
it. Adopting by group takes only a managed or an excluded group, and the report names guests only: the group's
members who are not guests are neither adopted nor listed."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from lifecycle.config import Settings
from lifecycle.domain import events
from lifecycle.domain.drift import drift
from lifecycle.domain.planning import ExpiryPolicy, plan_expiry
from lifecycle.domain.model import DisabledReason, EmailClaim, Guest, GuestState, InvitationState
from lifecycle.errors import ConcurrencyConflict, Conflict, Forbidden, GraphNotFound, LifecycleError
from lifecycle.ports import Directory, DirectoryUser, GuestListing, GuestQuery
from lifecycle.services.audit import Audit
from lifecycle.services.directory_view import directory_view
from lifecycle.services.records import GuestRecords

ACTOR_ACTION = "guest.adopt"


@dataclass
class Adoption:
    """The outcome of one adoption run (the report of POST /api/adopt)."""

    dry_run: bool
    found: int = 0
    adopted: int = 0
    already_tracked: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    guard_tripped: bool = False
    guard_message: str = ""

    def to_body(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "found": self.found, "adopted": self.adopted,
                "alreadyTracked": self.already_tracked, "skipped": self.skipped,
                "guard": {"tripped": self.guard_tripped, "message": self.guard_message}}


class AdoptionService:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 clock: Callable[[], datetime], policy: ExpiryPolicy) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._clock = clock
        self._policy = policy

    async def adopt(self, *, actor: str, dry_run: bool = False, expires_in_days: int | None = None,
                    group_id: str | None = None) -> Adoption:
        """Adopt every untracked guest (or those in `group_id`). Refused as a whole (Conflict) when the adopted
        records would make more guests due at once than the mass-deletion guard allows."""
        self._check_group(group_id)
        now = self._clock()
        days = expires_in_days or self._settings.guest_default_ttl_days
        result = Adoption(dry_run=dry_run)
        async with self._audit.audited(actor, "guests.adopt", group_id or "directory", dryRun=dry_run,
                                       expiresInDays=days) as notes:
            listing = await self._directory.list_guests(sign_in_activity=self._policy.inactivity_days > 0,
                                                        sponsors=True)
            users = await self._candidates(listing, group_id)
            result.found = len(users)
            fresh = await self._not_members_addresses(
                await self._untracked(users, result, None if dry_run else actor), result)
            records = [adopted_record(user, now, days) for user in fresh]
            expanded = {user.id for user in fresh if user.sponsors is not None and len(user.sponsors) < 20}
            self._guard(records, listing, now, result)
            if dry_run or result.guard_tripped:
                result.adopted = len(records) if not result.guard_tripped else 0
            else:
                result.adopted = await self._adopt_all(records, expanded, actor, result)
            notes.update(found=result.found, adopted=result.adopted, alreadyTracked=result.already_tracked,
                         skipped=len(result.skipped), guardTripped=result.guard_tripped)
        if result.guard_tripped and not dry_run:
            raise Conflict(result.guard_message, code="AdoptionGuardTripped", details=[result.to_body()])
        return result

    def _check_group(self, group_id: str | None) -> None:
        """Adoption by group reads a group the app is configured for: a managed or an excluded one (403 else)."""
        settings = self._settings
        if group_id is None or settings.access_policy.is_managed(group_id) \
                or group_id.lower() in settings.expiry_excluded_group_ids:
            return
        raise Forbidden(f"the group '{group_id}' is neither managed (MANAGED_GROUP_IDS) nor excluded "
                        "(EXPIRY_EXCLUDED_GROUP_IDS): adopt by one of those groups, or adopt without groupId",
                        code="GroupNotManaged", details=[{"groupId": group_id}])

    async def _candidates(self, listing: GuestListing, group_id: str | None) -> list[DirectoryUser]:
        """The directory's guests, or those that are members of the group (its other members are left out)."""
        if group_id is None:
            return listing.users
        try:
            members = await self._directory.transitive_member_ids(group_id)
        except GraphNotFound:
            raise GraphNotFound(f"there is no group '{group_id}' in the directory", code="GroupNotFound") from None
        return [u for u in listing.users if u.id in members]

    async def _untracked(self, users: list[DirectoryUser], result: Adoption,
                         actor: str | None = None) -> list[DirectoryUser]:
        """The users no record tracks (checked against the domain lists); a record that says deleted while its user
        is in the directory (restored outside the app) is brought back to what Graph shows (`actor`: not a dry run)
        and counted as tracked, never adopted a second time."""
        tracked = await self._tracked_records()
        policy = self._settings.access_policy
        fresh = []
        for user in users:
            if user.id in tracked:
                result.already_tracked += 1
                if actor is not None and tracked[user.id].is_removed:
                    await self._restored_outside(tracked[user.id], user, actor)
            elif not user.email:
                result.skipped.append({"id": user.id, "reason": "no email (mail and otherMails are empty)"})
            elif refusal := policy.address_refusal(user.own_addresses):
                result.skipped.append({"id": user.id, "reason": f"{refusal} (ALLOWED_EMAIL_DOMAINS / "
                                                                 "BLOCKED_EMAIL_DOMAINS)"})
            else:
                fresh.append(user)
        return fresh

    async def _not_members_addresses(self, users: list[DirectoryUser], result: Adoption) -> list[DirectoryUser]:
        """The guests whose record email is not a member's. Only an email taken from otherMails (mail is empty) is
        looked up: a guest's own mail is its own, so the usual guest costs no read."""
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency)

        async def owner(user: DirectoryUser) -> DirectoryUser | None:
            async with slots:
                return await self._directory.find_user_by_email(user.email)

        borrowed = [user for user in users if not user.mail]
        owners = dict(zip((u.id for u in borrowed), await asyncio.gather(*(owner(u) for u in borrowed)), strict=True))
        kept = []
        for user in users:
            found = owners.get(user.id)
            if found is not None and not found.is_guest:
                result.skipped.append({"id": user.id, "reason": f"its address '{user.email}' (from otherMails) "
                                                                 "belongs to a member of the directory"})
            else:
                kept.append(user)
        return kept

    async def _tracked_records(self) -> dict[str, Guest]:
        records: dict[str, Guest] = {}
        token: str | None = None
        while True:
            page = await self._records.store.query(GuestQuery(page_size=1000, continuation_token=token))
            records.update((g.id, g) for g in page.guests if g.state is not GuestState.PURGED)
            token = page.continuation_token
            if not token:
                return records

    async def _restored_outside(self, guest: Guest, user: DirectoryUser, actor: str) -> None:
        """Record what Graph shows of a user the record says is deleted (`domain.drift`), audited as found."""
        found = drift(guest, directory_view(user), self._clock())
        if found is None:
            return
        async with self._audit.audited(actor, "guest.refresh", guest.id, found=found.kind):
            await self._records.update(guest, found.transition, found.event)

    def _guard(self, records: list[Guest], listing: GuestListing, now: datetime, result: Adoption) -> None:
        """What the adopted records alone would make due at once (with inactivity on: guests who have not signed
        in for INACTIVITY_DAYS), against everyone tracked afterwards."""
        tracked = result.already_tracked + len(records)
        sign_ins = {u.id: u.sign_in for u in listing.users if u.sign_in is not None} if listing.sign_ins_read \
            else None
        policy = replace(self._policy, override_guard=False, dry_run=True)
        plan = plan_expiry(records, now, policy, tracked, sign_ins=sign_ins)
        result.guard_tripped, result.guard_message = plan.guard_tripped, plan.guard_message

    async def _adopt_all(self, records: list[Guest], expanded: set[str], actor: str, result: Adoption) -> int:
        slots = asyncio.Semaphore(self._settings.graph_max_concurrency * 2)

        async def adopt(guest: Guest) -> str | None:
            async with slots:
                return await self._adopt_one(guest, guest.id in expanded, actor)

        refusals = await asyncio.gather(*(adopt(g) for g in records))
        result.skipped += [{"id": g.id, "reason": r} for g, r in zip(records, refusals, strict=True) if r]
        return sum(1 for r in refusals if r is None)

    async def _adopt_one(self, guest: Guest, has_sponsors: bool, actor: str) -> str | None:
        """None when this run adopted the guest, else why it did not. `has_sponsors`: the listing's expanded
        sponsors are complete (fewer than Graph's 20 per expansion); otherwise they are listed for this guest."""
        try:
            async with self._audit.audited(actor, ACTOR_ACTION, guest.id, email=guest.email) as notes:
                if not has_sponsors:
                    guest = replace(guest, sponsors=await self._directory.sponsor_ids(guest.id))
                notes["sponsors"] = list(guest.sponsors)
                await self._create(guest)
        except ConcurrencyConflict:
            return "the guest or its email is tracked already"
        except LifecycleError as exc:
            return exc.message
        return None

    async def _create(self, guest: Guest) -> None:
        """The record, its email claim, its index rows and its event in one transaction (nothing is written to
        Graph, so there is no write-ahead step)."""
        now = self._clock()
        claim = EmailClaim(email=guest.email, guest_id=guest.id, claimed_at=now, request={"email": guest.email})
        await self._records.create(guest, claim, [events.guest_event(events.ADOPTED, guest, now)])


def adopted_record(user: DirectoryUser, now: datetime, expires_in_days: int) -> Guest:
    """The record of an existing guest: its directory facts, an expiry `expires_in_days` from now (never
    immediate), and the directory's createdDateTime as the start of its inactivity window."""
    accepted = user.external_user_state == InvitationState.ACCEPTED.value
    guest = Guest(
        id=user.id, email=user.email, display_name=user.display_name, sponsors=user.sponsors or (),
        state=GuestState.ACTIVE if accepted else GuestState.INVITED,
        invitation_state=InvitationState.ACCEPTED if accepted else InvitationState.PENDING,
        expires_at=now + timedelta(days=expires_in_days), invited_at=now, adopted_at=now,
        directory_created_at=user.created_at, created_at=now, updated_at=now)
    if user.account_enabled is False:  # blocked already: tracked as disabled by hand, never deleted by the sweep
        guest = replace(guest, state=GuestState.DISABLED, disabled_at=now, disabled_reason=DisabledReason.MANUAL)
    return guest

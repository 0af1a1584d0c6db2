"""Invite a guest, or adopt the guest who already exists for the email; then give it its groups.

The invite, in order: hold the email's claim (the write-ahead record, before any Graph call) → look the email up in
Graph → invite a new user, or adopt the one Graph has → create the record (while its group adds are written) → record
what Graph did. A guest already tracked is adopted from its record. What the steps rely on:
- the claim is written before the lookup and every Graph write; a request that waited for it looks up only after;
- the claim is released only when nothing was created in Graph, else abandoned (stale at once) and finished from its
  command by the next request or the sweep (`resolve_stale_claim`), which takes it over before any Graph call;
- the record is created while its group adds are written: the claim holds their command until it is linked.
Pinned by tests/integration/test_invite_ordering_live.py, test_stale_claim_command_live.py and
test_graph_refusals_live.py, and tests/unit/test_email_claims.py."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from lifecycle.config import Settings, Tuning
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import EmailClaim, Guest, InvitationState
from lifecycle.errors import (
    ConcurrencyConflict,
    Forbidden,
    GraphBadRequest,
    GraphPolicyRefusal,
    GraphRejectedInput,
    LifecycleError,
    LimitExceeded,
)
from lifecycle.ports import Directory, DirectoryUser
from lifecycle.services.audit import Audit
from lifecycle.services.claims import AlreadyTracked, Claimed, EmailClaims, HeldByAnother
from lifecycle.services.invite_graph import InviteGraph, refuse_members_and_addresses
from lifecycle.services.invite_records import InviteRecords, ignored_fields
from lifecycle.services.provisioning import Provisioner, Written
from lifecycle.services.records import GuestRecords

REFUSED = (GraphBadRequest, GraphRejectedInput, GraphPolicyRefusal, Forbidden, LimitExceeded)  # nothing created


@dataclass(frozen=True)
class InviteOutcome:
    guest: Guest
    created: bool
    redeem_url: str | None = None
    user: DirectoryUser | None = None  # the user as Graph returned it during this request
    ignored: tuple[str, ...] = ()  # fields of the request a guest already tracked did not take (wire names)

    @property
    def pending(self) -> bool:
        return bool(self.guest.pending_groups)


class StaleClaim(StrEnum):
    """How a stale claim's invitation was finished."""
    RELEASED = "released"  # Graph has no guest for the email: nothing to track
    ADOPTED = "adopted"  # Graph has the guest: recorded from the claim's command


class InvitationService:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime], provisioner: Provisioner) -> None:
        self._settings = settings
        self._directory = directory
        self._audit = audit
        self._provisioner = provisioner
        self._claims = EmailClaims(records=records, tuning=tuning, clock=clock)
        self._records = InviteRecords(records=records, claims=self._claims, provisioner=provisioner, clock=clock)
        self._graph = InviteGraph(directory=directory, settings=settings, invite_records=self._records)

    async def invite(self, command: InviteGuest, actor: str) -> InviteOutcome:
        """Raises Forbidden (a domain or group refused, before any call; a member's email), Conflict
        (InviteInProgress), LimitExceeded, GraphError and StorageUnavailable; a repeat adopts the tracked guest."""
        policy = self._settings.access_policy
        policy.check_emails((command.email, *command.cc_recipients))
        policy.check_groups(command.group_ids)
        async with self._audit.audited(actor, "guest.invite", command.email, groups=command.group_ids) as notes:
            outcome = await self._invite(command)
            notes.update(target=outcome.guest.id, email=command.email, created=outcome.created,
                         pendingGroups=list(outcome.guest.pending_groups))
        return outcome

    async def _invite(self, command: InviteGuest) -> InviteOutcome:
        match await self._claims.claim(command, finish_stale=self.resolve_stale_claim):
            case AlreadyTracked(guest=tracked):
                guest = await self._adopt_tracked(tracked, command)
                return InviteOutcome(guest, created=False, ignored=ignored_fields(tracked, command))
            case Claimed(claim=claim):
                return await self._invite_claimed(claim, command)

    async def _invite_claimed(self, claim: EmailClaim, command: InviteGuest) -> InviteOutcome:
        try:
            user = await self._graph.find_user(command.email)
            if user is None:
                outcome, written = await self._invite_new(claim, command)
            else:
                outcome, written = await self._adopt_existing(claim, command, user)
        except REFUSED:
            await self._claims.release(claim)
            raise
        except LifecycleError:  # unknown whether Graph created the user: the next request or the sweep finds out
            await self._claims.abandon(claim)
            raise
        guest = outcome.guest if outcome.created else await self._graph.write_sponsors(outcome.guest, command)
        return replace(outcome, guest=await self._provisioner.finish_for_caller(guest, outcome.user, written))

    async def _invite_new(self, claim: EmailClaim, command: InviteGuest) -> tuple[InviteOutcome, Written | None]:
        invitation, user = await self._graph.invite(command)
        guest, written = await self._records.record_while_writing(claim, command, invitation.user_id, user,
                                                                  invitation.redeem_url)
        return InviteOutcome(guest, created=not invitation.completed, redeem_url=invitation.redeem_url,
                             user=user), written

    async def _adopt_existing(self, claim: EmailClaim, command: InviteGuest,
                              user: DirectoryUser) -> tuple[InviteOutcome, Written | None]:
        """The guest Graph has for the email, not tracked under it: recorded, no invitation sent."""
        refuse_members_and_addresses(user, self._settings)
        await self._records.check_room(user.id, command)
        guest, written = await self._records.record_while_writing(claim, command, user.id, user, None)
        return InviteOutcome(guest, created=False, user=user), written

    async def _adopt_tracked(self, guest: Guest, command: InviteGuest) -> Guest:
        """A guest tracked already takes what the command adds, recorded before any Graph write."""
        user = await self._directory.get_user(guest.id)
        if user is not None:  # converted to a member, or an address refused by the domain lists: nothing recorded
            refuse_members_and_addresses(user, self._settings)
            await self._graph.refuse_a_members_address(guest.email, user)
        wanted = await self._graph.write_sponsors(await self._records.want(guest, command), command)
        return await self._provisioner.finish_for_caller(wanted, user)

    async def resolve_stale_claim(self, claim: EmailClaim) -> StaleClaim:
        """Finish an invitation whose owner died after claiming the email, with the command its claim stores (its
        group adds and attribute writes may have been made already): adopt the user Graph has, or release. Called
        by the sweep and by the next request for the email; the claim is taken over before any Graph call, so only
        one of them resolves it: ConcurrencyConflict for the others. A failure before the record is written leaves
        the claim abandoned (stale again); the record's create is safe to repeat. Raises GraphError,
        StorageUnavailable."""
        match await self._claims.take_over(claim):
            case HeldByAnother():
                raise ConcurrencyConflict("another request or the sweep is finishing this invitation")
            case Claimed(claim=held):
                pass
        try:
            user = await self._graph.find_user(claim.email)
            if user is None or not user.is_guest:
                await self._claims.release(held)
                return StaleClaim.RELEASED
            command = InviteGuest.from_stored(claim.request, email=claim.email, claimed_at=claim.claimed_at,
                                              default_ttl_days=self._settings.guest_default_ttl_days)
            link_lost = user.external_user_state != InvitationState.ACCEPTED.value
            guest = await self._records.record(held, command, user.id, user, None, link_lost=link_lost)
        except LifecycleError:
            await self._claims.abandon(held)
            raise
        await self._provisioner.finish(guest, user)
        return StaleClaim.ADOPTED

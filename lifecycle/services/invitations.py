"""Invite a guest, or adopt the guest who already exists for the email; then give it its groups."""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from lifecycle.config import Settings, Tuning
from lifecycle.domain import events
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.policy import email_forms
from lifecycle.domain.model import EmailClaim, Guest, GuestState, InvitationState
from lifecycle.errors import (
    ConcurrencyConflict,
    Conflict,
    Forbidden,
    GraphBadRequest,
    GraphRejectedInput,
    LifecycleError,
    NotFound,
)
from lifecycle.ports import Directory, DirectoryUser, Invitation, InvitationRequest
from lifecycle.services.audit import Audit
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords

log = logging.getLogger("lifecycle")


@dataclass(frozen=True)
class InviteOutcome:
    guest: Guest
    created: bool
    redeem_url: str | None = None
    user: DirectoryUser | None = None  # the user as Graph returned it during this request

    @property
    def pending(self) -> bool:
        return bool(self.guest.pending_groups)


class InvitationService:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 tuning: Tuning, clock: Callable[[], datetime], provisioner: Provisioner) -> None:
        self._records = records
        self._claims = records.store
        self._directory = directory
        self._audit = audit
        self._settings = settings
        self._tuning = tuning
        self._clock = clock
        self._provisioner = provisioner

    async def invite(self, command: InviteGuest, actor: str) -> InviteOutcome:
        policy = self._settings.access_policy
        policy.check_emails((command.email, *command.cc_recipients))
        policy.check_groups(command.group_ids)
        async with self._audit.audited(actor, "guest.invite", command.email, groups=command.group_ids) as notes:
            outcome = await self._invite(command)
            notes.update(target=outcome.guest.id, email=command.email, created=outcome.created,
                         pendingGroups=list(outcome.guest.pending_groups))
        return outcome

    async def _invite(self, command: InviteGuest) -> InviteOutcome:
        held = await self._claim(command)
        if isinstance(held, Guest):
            return InviteOutcome(await self._adopt_tracked(held, command), created=False)
        try:
            outcome = await self._invite_claimed(held, command)
        except (GraphBadRequest, GraphRejectedInput, Forbidden):  # refused: nothing was created in Graph
            await self._release(held)
            raise
        except LifecycleError:  # unknown whether Graph created the user: the next request or the sweep finds out
            await self._abandon(held)
            raise
        guest = outcome.guest if outcome.created else await self._write_sponsors(outcome.guest, command)
        return replace(outcome, guest=await self._provisioner.finish_for_caller(guest, outcome.user))

    # --- the email claim (write-ahead record, one winner per email) ------------------------------
    async def _claim(self, command: InviteGuest) -> EmailClaim | Guest:
        store, tuning = self._claims, self._tuning
        deadline = asyncio.get_running_loop().time() + tuning.claim_wait_seconds
        fresh = EmailClaim(email=command.email, owner=uuid.uuid4().hex, claimed_at=self._clock(),
                           request=command.to_stored())
        while True:
            existing = await store.get_claim(command.email)
            try:
                held = await self._try_claim(existing, fresh)
            except (ConcurrencyConflict, NotFound):  # another request changed or released the claim meanwhile
                held = None
            if held is not None:
                return held
            if asyncio.get_running_loop().time() > deadline:
                raise Conflict("an invitation for this email is in progress; retry shortly", code="InviteInProgress")
            await asyncio.sleep(tuning.claim_poll_seconds)

    async def _try_claim(self, existing: EmailClaim | None, fresh: EmailClaim) -> EmailClaim | Guest | None:
        store = self._claims
        if existing is None:
            return await store.claim_email(fresh)
        if existing.is_linked:
            guest = await self._records.get(existing.guest_id)
            if guest is not None and not guest.is_removed:
                return guest
            return await store.take_over_claim(replace(fresh, etag=existing.etag))
        stale_after = timedelta(seconds=self._tuning.claim_stale_seconds)
        if existing.is_stale(self._clock(), stale_after):
            return await store.take_over_claim(replace(fresh, etag=existing.etag))
        return None

    async def _release(self, claim: EmailClaim) -> None:
        try:
            await self._claims.release_claim(claim)
        except LifecycleError as exc:
            log.warning("could not release an email claim (owner %s): %s", claim.owner, exc.message)

    async def _abandon(self, claim: EmailClaim) -> None:
        """Leave the write-ahead claim for the next request or the sweep, marked as immediately stale."""
        long_ago = datetime(2000, 1, 1, tzinfo=timezone.utc)
        try:
            await self._claims.take_over_claim(replace(claim, claimed_at=long_ago))
        except LifecycleError as exc:
            log.warning("could not mark an email claim abandoned (owner %s): %s", claim.owner, exc.message)

    async def resolve_stale_claim(self, claim: EmailClaim) -> str:
        """Finish an invitation whose owner died after claiming the email: adopt the user Graph has, or release."""
        held = await self._claims.take_over_claim(
            replace(claim, owner=uuid.uuid4().hex, claimed_at=self._clock()))
        user = await self._find_user(claim.email)
        if user is None or not user.is_guest:
            await self._release(held)
            return "released"
        command = InviteGuest.from_stored(claim.request, email=claim.email, claimed_at=claim.claimed_at,
                                          default_ttl_days=self._settings.guest_default_ttl_days)
        guest = await self._record(held, command, user.id, user, None)
        await self._provisioner.finish(guest, user)
        return "adopted"

    # --- paths -----------------------------------------------------------------------------------
    async def _invite_claimed(self, claim: EmailClaim, command: InviteGuest) -> InviteOutcome:
        directory = self._directory
        user = await self._find_user(command.email)
        if user is not None and not user.is_guest:
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")
        if user is not None:
            return InviteOutcome(await self._record(claim, command, user.id, user, None), created=False, user=user)
        invitation = await directory.invite(self._invitation(command))
        user = await self._invited_user(invitation, command)
        guest = await self._record(claim, command, invitation.user_id, user, invitation.redeem_url)
        return InviteOutcome(guest, created=not invitation.completed, redeem_url=invitation.redeem_url, user=user)

    async def _invited_user(self, invitation: Invitation, command: InviteGuest) -> DirectoryUser:
        """The invited user as the record starts from. The invitation's `status` is not the user's redemption state:
        `Completed` says the user already existed and had redeemed, so read its `externalUserState`."""
        if invitation.completed:
            found = await self._directory.get_user(invitation.user_id)
            if found is not None:
                return found
        return DirectoryUser(id=invitation.user_id, user_type="Guest", display_name=command.display_name or "",
                             external_user_state=InvitationState.PENDING.value)

    async def _write_sponsors(self, guest: Guest, command: InviteGuest) -> Guest:
        """Sponsors given for a guest who already exists, written to Graph after the record holds them (an
        invitation carries its own `invitedUserSponsors`; an existing user needs `POST /users/{id}/sponsors/$ref`).
        A sponsor Graph does not know is taken off the record and refused (422)."""
        for sponsor in command.sponsors:
            try:
                await self._directory.add_sponsor(guest.id, sponsor)
            except GraphRejectedInput as exc:
                await self._drop_sponsor(guest, sponsor, exc.message)
                exc.details.append({"guestId": guest.id, "sponsor": sponsor})
                raise
        return guest

    async def _drop_sponsor(self, guest: Guest, sponsor: str, reason: str) -> None:
        now = self._clock()

        def drop(current: Guest) -> Guest:
            kept = tuple(s for s in current.sponsors if s != sponsor)
            return replace(current, sponsors=kept, last_error=reason, updated_at=now)

        await self._records.update(guest, drop)

    async def _find_user(self, email: str) -> DirectoryUser | None:
        """The user Graph holds for the email, whether its domain is recorded in ASCII (punycode) or Unicode."""
        for form in email_forms(email):
            user = await self._directory.find_user_by_email(form)
            if user is not None:
                return user
        return None

    async def _record(self, claim: EmailClaim, command: InviteGuest, user_id: str, user: DirectoryUser,
                      redeem_url: str | None) -> Guest:
        now = self._clock()
        guest = self._new_guest(command, user_id, user, now)
        redeem = {"inviteRedeemUrl": redeem_url} if redeem_url else {}  # lets a flow send its own invitation mail
        invited = [events.guest_event(events.INVITED, guest, now, **redeem)]
        try:
            return await self._records.create(guest, claim, invited)
        except ConcurrencyConflict:
            tracked = await self._records.get(user_id)
            if tracked is None:
                raise
            await self._claims.take_over_claim(replace(claim, guest_id=tracked.id))
            return await self._records.update(tracked, lambda g: self._wanted(g, command, now))

    def _new_guest(self, command: InviteGuest, user_id: str, user: DirectoryUser, now: datetime) -> Guest:
        accepted = (user.external_user_state or "") == InvitationState.ACCEPTED.value
        guest = Guest(
            id=user_id, email=command.email, display_name=command.display_name or user.display_name or "",
            state=GuestState.ACTIVE if accepted else GuestState.INVITED,
            invitation_state=InvitationState.ACCEPTED if accepted else InvitationState.PENDING,
            sponsors=command.sponsors, expires_at=command.expires_at, invited_at=now, created_at=now, updated_at=now)
        return self._wanted(guest, command, now)

    @staticmethod
    def _wanted(guest: Guest, command: InviteGuest, now: datetime) -> Guest:
        guest = guest.want_groups(now, command.group_ids)
        new_sponsors = tuple(s for s in command.sponsors if s not in guest.sponsors)
        if new_sponsors:
            guest = replace(guest, sponsors=guest.sponsors + new_sponsors, updated_at=now)
        if command.attributes:
            guest = replace(guest, pending_attributes={**guest.pending_attributes, **command.attribute_values})
        if command.expiry_chosen and guest.is_live:
            guest = replace(guest, expires_at=command.expires_at, notice_sent_at=None)
        return guest

    async def _adopt_tracked(self, guest: Guest, command: InviteGuest) -> Guest:
        user = await self._directory.get_user(guest.id)
        if user is not None and not user.is_guest:  # converted to a member since: refused, nothing recorded
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")
        now = self._clock()
        wanted = await self._records.update(guest, lambda g: self._wanted(g, command, now))
        wanted = await self._write_sponsors(wanted, command)
        return await self._provisioner.finish_for_caller(wanted, user)

    def _invitation(self, command: InviteGuest) -> InvitationRequest:
        return InvitationRequest(
            email=command.email, redirect_url=command.redirect_url or self._settings.invite_redirect_url,
            display_name=command.display_name, send_message=command.send_invitation_message, message=command.message,
            message_language=command.message_language, cc_recipients=command.cc_recipients,
            sponsors=command.sponsors)


"""Invite a guest, or adopt the guest who already exists for the email; then give it its groups."""
from __future__ import annotations

import asyncio
import logging
import uuid
from asyncio import Task
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from lifecycle.config import Settings, Tuning
from lifecycle.domain import events
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.limits import check_growth
from lifecycle.domain.policy import email_forms, external_address
from lifecycle.domain.model import EmailClaim, Guest, GuestState, InvitationState
from lifecycle.errors import (
    ConcurrencyConflict,
    Conflict,
    Forbidden,
    GraphBadRequest,
    GraphPolicyRefusal,
    GraphRejectedInput,
    LifecycleError,
    LimitExceeded,
    NotFound,
)
from lifecycle.ports import Directory, DirectoryUser, Invitation, InvitationRequest
from lifecycle.services.audit import Audit
from lifecycle.services.provisioning import Provisioner, Written
from lifecycle.services.records import GuestRecords

LINK_LOST = ("the invitation's redemption link was lost with its answer (the request that sent it died); "
             "POST /api/guests/{id}/reinvite issues a new one")
log = logging.getLogger("lifecycle")
Lookup = Task[DirectoryUser | None]


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
        held, early_lookup = await self._claim_and_look_up(command)
        if isinstance(held, Guest):
            ignored = ignored_fields(held, command)
            return InviteOutcome(await self._adopt_tracked(held, command), created=False, ignored=ignored)
        try:
            outcome, written = await self._invite_claimed(held, command, early_lookup)
        except (GraphBadRequest, GraphRejectedInput, GraphPolicyRefusal, Forbidden,
                LimitExceeded):  # refused: nothing was created in Graph
            await self._release(held)
            raise
        except LifecycleError:  # unknown whether Graph created the user: the next request or the sweep finds out
            await self._abandon(held)
            raise
        guest = outcome.guest if outcome.created else await self._write_sponsors(outcome.guest, command)
        return replace(outcome, guest=await self._provisioner.finish_for_caller(guest, outcome.user, written))

    # --- the email claim (write-ahead record, one winner per email) ------------------------------
    async def _claim_and_look_up(self, command: InviteGuest) -> tuple[EmailClaim | Guest, Lookup | None]:
        """The claim, with the lookup of the email in Graph made while it is taken (a read: the claim is the
        write-ahead record of the invitation, not of a lookup). The lookup is returned only with a claim created at
        once: no request held the email then, and every request that sent an invitation for it left its claim
        behind (a claim is released only when Graph refused the invitation, or has no user for the email), so the
        lookup saw what a lookup made after the claim would see. A claim taken any other way (after a wait, over a
        stale claim, or none because the guest is tracked) is given no lookup: a winner may have created the user
        meanwhile, so the email is looked up again once the claim is held."""
        fresh = EmailClaim(email=command.email, owner=uuid.uuid4().hex, claimed_at=self._clock(),
                           request=command.to_stored())
        lookup = asyncio.create_task(self._find_user(command.email))
        try:
            await asyncio.sleep(0)  # the lookup goes out first: it takes a Graph round, the claim a storage one
            held = await self._claim_at_once(fresh)
        except BaseException:
            await _discard(lookup)
            raise
        if held is not None:
            return held, lookup
        await _discard(lookup)
        return await self._claim(fresh), None

    async def _claim_at_once(self, fresh: EmailClaim) -> EmailClaim | None:
        """Create the claim without reading first (a new email is the common case); None when one exists."""
        try:
            return await self._claims.claim_email(fresh)
        except ConcurrencyConflict:
            return None

    async def _claim(self, fresh: EmailClaim) -> EmailClaim | Guest:
        store, tuning = self._claims, self._tuning
        deadline = asyncio.get_running_loop().time() + tuning.claim_wait_seconds
        while True:
            existing = await store.get_claim(fresh.email)
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
            await self.resolve_stale_claim(existing)  # finish its owner's invite first: its adds may be in Graph
            return await self._try_claim(await store.get_claim(fresh.email), fresh)
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
        """Finish an invitation whose owner died after claiming the email, with the command its claim stores (its
        group adds and attribute writes may have been made already): adopt the user Graph has, or release. Called
        by the sweep and by the next request for the email; the claim is taken over first, so only one of them
        resolves it (ConcurrencyConflict for the others). A failure before the record is written leaves the claim
        stale again."""
        held = await self._claims.take_over_claim(
            replace(claim, owner=uuid.uuid4().hex, claimed_at=self._clock()))
        try:
            user = await self._find_user(claim.email)
            if user is None or not user.is_guest:
                await self._release(held)
                return "released"
            command = InviteGuest.from_stored(claim.request, email=claim.email, claimed_at=claim.claimed_at,
                                              default_ttl_days=self._settings.guest_default_ttl_days)
            link_lost = user.external_user_state != InvitationState.ACCEPTED.value
            guest = await self._record(held, command, user.id, user, None, link_lost=link_lost)
        except LifecycleError:
            await self._abandon(held)
            raise
        await self._provisioner.finish(guest, user)
        return "adopted"

    # --- paths -----------------------------------------------------------------------------------
    async def _invite_claimed(self, claim: EmailClaim, command: InviteGuest,
                              early_lookup: Lookup | None) -> tuple[InviteOutcome, Written | None]:
        directory = self._directory
        user = await (early_lookup if early_lookup is not None else self._find_user(command.email))
        if user is not None and not user.is_guest:
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")
        if user is not None:
            self._settings.access_policy.check_user_addresses(user.own_addresses)
            await self._check_room(user.id, command)
            guest, written = await self._record_while_writing(claim, command, user.id, user, None)
            return InviteOutcome(guest, created=False, user=user), written
        invitation = await directory.invite(self._invitation(command))
        user = await self._invited_user(invitation, command)
        guest, written = await self._record_while_writing(claim, command, invitation.user_id, user,
                                                          invitation.redeem_url)
        return InviteOutcome(guest, created=not invitation.completed, redeem_url=invitation.redeem_url,
                             user=user), written

    async def _record_while_writing(self, claim: EmailClaim, command: InviteGuest, user_id: str,
                                    user: DirectoryUser, redeem_url: str | None) -> tuple[Guest, Written | None]:
        """The record created while its group adds and attribute write are made in Graph. The claim held is their
        durable write-ahead record: it stores the whole command, and stays unlinked until the record is created, so
        a crash or a failed create leaves a stale claim that the sweep or the next request finishes from that
        command (`resolve_stale_claim`). A concurrent request for the email waits on the claim until the record
        is linked, then adopts the tracked guest; adds are idempotent. Both are awaited to the end; a failed
        create is raised (the claim is then abandoned), what was written is recorded by the caller with the
        created record's ETag."""
        wanting = self._new_guest(command, user_id, user, self._clock())
        writing, recording = await asyncio.gather(self._provisioner.write_while_recording(wanting, user),
                                                  self._record(claim, command, user_id, user, redeem_url),
                                                  return_exceptions=True)  # Graph's round goes out first
        if isinstance(recording, BaseException):
            raise recording
        if isinstance(writing, BaseException):
            raise writing
        return recording, writing

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

    async def _refuse_a_members_address(self, email: str, guest: DirectoryUser) -> None:
        """A record that took its email from the guest's otherMails (tracked before members' addresses were
        checked) is refused when a member owns that address: looked up only then, so the usual case costs no read."""
        if email in (guest.mail, external_address(guest.user_principal_name)):
            return
        owner = await self._find_user(email)
        if owner is not None and not owner.is_guest:
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")

    async def _check_room(self, user_id: str, command: InviteGuest) -> None:
        """An existing guest already tracked (under another of its addresses) takes what the command adds only
        within a record's limits: LimitExceeded before any write, never after the group adds were made."""
        tracked = await self._records.get(user_id)
        if tracked is not None:
            check_growth(tracked, self._wanted(tracked, command, self._clock()))

    async def _find_user(self, email: str) -> DirectoryUser | None:
        """The user Graph holds for the email, whether its domain is recorded in ASCII (punycode) or Unicode; when
        the forms find different users, the first by `lookup_rank` (a member who owns the address wins)."""
        found = []
        for form in email_forms(email):
            user = await self._directory.find_user_by_email(form)
            if user is not None:
                found.append((user.lookup_rank(form), user))
        return min(found, key=lambda ranked: ranked[0])[1] if found else None

    async def _record(self, claim: EmailClaim, command: InviteGuest, user_id: str, user: DirectoryUser,
                      redeem_url: str | None, *, link_lost: bool = False) -> Guest:
        """Create the record (with its `guest.invited` event) from the claim. `link_lost`: the invitation's answer,
        and with it the redemption link, was lost (its request died): the record and the event say so, and how to
        issue a new one, instead of leaving the link silently absent."""
        now = self._clock()
        guest = self._new_guest(command, user_id, user, now)
        redeem: dict[str, object] = {"inviteRedeemUrl": redeem_url} if redeem_url else {}  # for a flow's own mail
        if link_lost:
            guest = replace(guest, last_error=LINK_LOST.format(id=user_id))
            redeem = {"inviteRedeemUrl": None, "redeemUrlLost": True, "newLink": f"POST /api/guests/{user_id}/reinvite"}
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
        if command.expiry_chosen and guest.is_live and (guest.expires_at is None
                                                        or command.expires_at > guest.expires_at):
            guest = replace(guest, expires_at=command.expires_at, notice_sent_at=None)  # later only: never shortens
        return guest

    async def _adopt_tracked(self, guest: Guest, command: InviteGuest) -> Guest:
        user = await self._directory.get_user(guest.id)
        if user is not None and not user.is_guest:  # converted to a member since: refused, nothing recorded
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")
        if user is not None:  # an address of the guest refused by the domain lists: nothing recorded either
            self._settings.access_policy.check_user_addresses(user.own_addresses)
            await self._refuse_a_members_address(guest.email, user)
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


def ignored_fields(tracked: Guest, command: InviteGuest) -> tuple[str, ...]:
    """What a second invite of a guest already tracked does not take: it adds groups, sponsors and attributes and
    moves the expiry later, never earlier; it sends no invitation and renames nobody."""
    ignored = [name for name, given in (
        ("displayName", command.display_name), ("redirectUrl", command.redirect_url),
        ("sendInvitationMessage", command.send_invitation_message), ("message", command.message),
        ("messageLanguage", command.message_language), ("ccRecipients", command.cc_recipients)) if given]
    if command.expiry_chosen and (not tracked.is_live or (
            tracked.expires_at is not None and command.expires_at <= tracked.expires_at)):
        ignored.append("expiresAt/expiresInDays")
    return tuple(ignored)


async def _discard(task: Lookup) -> None:
    """Cancel a lookup whose answer is not needed, and let it end (its error, if any, is not wanted either)."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()

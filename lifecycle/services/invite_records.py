"""The record an invite creates from its email claim, and what a second invite of a tracked guest changes on it."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from lifecycle.domain import events
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.limits import check_growth
from lifecycle.domain.model import EmailClaim, Guest, GuestState, InvitationState
from lifecycle.errors import ConcurrencyConflict
from lifecycle.ports import DirectoryUser
from lifecycle.services.claims import EmailClaims
from lifecycle.services.provisioning import Provisioner, Written
from lifecycle.services.records import GuestRecords

LINK_LOST = ("the invitation's redemption link was lost with its answer (the request that sent it died); "
             "POST /api/guests/{id}/reinvite issues a new one")


class InviteRecords:
    def __init__(self, *, records: GuestRecords, claims: EmailClaims, provisioner: Provisioner,
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._claims = claims
        self._provisioner = provisioner
        self._clock = clock

    async def record_while_writing(self, claim: EmailClaim, command: InviteGuest, user_id: str, user: DirectoryUser,
                                   redeem_url: str | None) -> tuple[Guest, Written | None]:
        """The record created while its group adds and attribute write are made in Graph. The claim held is their
        durable write-ahead record: it stores the whole command, and stays unlinked until the record is created, so
        a crash or a failed create leaves a stale claim that the sweep or the next request finishes from that
        command (`InvitationService.resolve_stale_claim`). A concurrent request for the email waits on the claim
        until it is linked, then adopts the tracked guest; adds are idempotent. Both are awaited to the end; a
        failed create is raised first (the caller then abandons the claim), then a failed write. What was written
        is returned, to be recorded by the caller with the created record's ETag."""
        wanting = new_guest(command, user_id, user, self._clock())
        writing, recording = await asyncio.gather(self._provisioner.write_while_recording(wanting, user),
                                                  self.record(claim, command, user_id, user, redeem_url),
                                                  return_exceptions=True)  # Graph's round goes out first
        if isinstance(recording, BaseException):
            raise recording
        if isinstance(writing, BaseException):
            raise writing
        return recording, writing

    async def record(self, claim: EmailClaim, command: InviteGuest, user_id: str, user: DirectoryUser,
                     redeem_url: str | None, *, link_lost: bool = False) -> Guest:
        """Create the record (with its `guest.invited` event) and link the claim to it. When another request
        tracked the user first (under another of its addresses), the claim is linked to that record and the command
        applied to it. `link_lost`: the invitation's answer, and with it the redemption link, was lost (its request
        died): the record and the event say so, and how to issue a new one, instead of leaving the link silently
        absent. Raises ConcurrencyConflict (the claim changed: it is no longer held), LimitExceeded before any
        write, StorageUnavailable. Safe to repeat for the same claim and user (the store's create is)."""
        now = self._clock()
        guest = new_guest(command, user_id, user, now)
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
            await self._claims.link(claim, tracked.id)
            return await self._records.update(tracked, lambda g: wanted(g, command, now))

    async def check_room(self, user_id: str, command: InviteGuest) -> None:
        """An existing guest already tracked (under another of its addresses) takes what the command adds only
        within a record's limits: LimitExceeded before any write, never after the group adds were made."""
        tracked = await self._records.get(user_id)
        if tracked is not None:
            check_growth(tracked, wanted(tracked, command, self._clock()))

    async def want(self, guest: Guest, command: InviteGuest) -> Guest:
        """The tracked record given what a second invite adds (`wanted`), before any Graph write. Raises
        LimitExceeded before any write, ConcurrencyConflict, NotFound, StorageUnavailable. Idempotent."""
        now = self._clock()
        return await self._records.update(guest, lambda g: wanted(g, command, now))

    async def drop_sponsor(self, guest: Guest, sponsor: str, reason: str) -> Guest:
        """Take a sponsor Graph refused off the record, saying why. Idempotent."""
        now = self._clock()

        def drop(current: Guest) -> Guest:
            kept = tuple(s for s in current.sponsors if s != sponsor)
            return replace(current, sponsors=kept, last_error=reason, updated_at=now)

        return await self._records.update(guest, drop)


def new_guest(command: InviteGuest, user_id: str, user: DirectoryUser, now: datetime) -> Guest:
    """The record of a user invited (or found in the directory) for the command."""
    accepted = (user.external_user_state or "") == InvitationState.ACCEPTED.value
    guest = Guest(
        id=user_id, email=command.email, display_name=command.display_name or user.display_name or "",
        state=GuestState.ACTIVE if accepted else GuestState.INVITED,
        invitation_state=InvitationState.ACCEPTED if accepted else InvitationState.PENDING,
        sponsors=command.sponsors, expires_at=command.expires_at, invited_at=now, created_at=now, updated_at=now)
    return wanted(guest, command, now)


def wanted(guest: Guest, command: InviteGuest, now: datetime) -> Guest:
    """The record wanting what the command adds: its groups, sponsors and attributes, and its expiry if later."""
    guest = guest.want_groups(now, command.group_ids)
    new_sponsors = tuple(s for s in command.sponsors if s not in guest.sponsors)
    if new_sponsors:
        guest = replace(guest, sponsors=guest.sponsors + new_sponsors, updated_at=now)
    if command.attributes:
        guest = replace(guest, pending_attributes={**guest.pending_attributes, **command.attribute_values})
    if command.expiry_chosen and guest.is_live and (guest.expires_at is None or command.expires_at > guest.expires_at):
        guest = replace(guest, expires_at=command.expires_at, notice_sent_at=None)  # later only: never shortens
    return guest


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

"""What an invite reads and writes in Graph: the user an email names, the invitation, an existing user's sponsors."""
from __future__ import annotations

from lifecycle.config import Settings
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import Guest, InvitationState
from lifecycle.domain.policy import email_forms, external_address
from lifecycle.errors import Forbidden, GraphRejectedInput
from lifecycle.ports import Directory, DirectoryUser, Invitation, InvitationRequest
from lifecycle.services.invite_records import InviteRecords


def refuse_members_and_addresses(user: DirectoryUser, settings: Settings) -> None:
    """Forbidden (NotAGuest) for a member of the directory, Forbidden (DomainNotAllowed) for a guest with an address
    the domain lists refuse: nothing is recorded or written for either."""
    if not user.is_guest:
        raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")
    settings.access_policy.check_user_addresses(user.own_addresses)


class InviteGraph:
    def __init__(self, *, directory: Directory, settings: Settings, invite_records: InviteRecords) -> None:
        self._directory = directory
        self._settings = settings
        self._invite_records = invite_records

    async def find_user(self, email: str) -> DirectoryUser | None:
        """The user Graph holds for the email, whether its domain is recorded in ASCII (punycode) or Unicode; when
        the forms find different users, the first by `lookup_rank` (a member who owns the address wins). A read:
        raises what the directory raises (GraphError, throttling, IdentityUnavailable)."""
        found = []
        for form in email_forms(email):
            user = await self._directory.find_user_by_email(form)
            if user is not None:
                found.append((user.lookup_rank(form), user))
        return min(found, key=lambda ranked: ranked[0])[1] if found else None

    async def invite(self, command: InviteGuest) -> tuple[Invitation, DirectoryUser]:
        """Send the invitation (a Graph write: the caller holds the email's claim) and return it with the invited
        user as the record starts from. Raises GraphBadRequest, GraphRejectedInput, GraphPolicyRefusal (refused:
        nothing created), or another LifecycleError (unknown whether Graph created the user). Not idempotent; Graph
        answers a second invitation of the same email with the same user."""
        settings = self._settings
        invitation = await self._directory.invite(InvitationRequest(
            email=command.email, redirect_url=command.redirect_url or settings.invite_redirect_url,
            display_name=command.display_name, send_message=command.send_invitation_message, message=command.message,
            message_language=command.message_language, cc_recipients=command.cc_recipients,
            sponsors=command.sponsors))
        return invitation, await self._invited_user(invitation, command)

    async def _invited_user(self, invitation: Invitation, command: InviteGuest) -> DirectoryUser:
        """The invitation's `status` is not the user's redemption state: `Completed` says the user already existed
        and had redeemed, so read its `externalUserState`."""
        if invitation.completed:
            found = await self._directory.get_user(invitation.user_id)
            if found is not None:
                return found
        return DirectoryUser(id=invitation.user_id, user_type="Guest", display_name=command.display_name or "",
                             external_user_state=InvitationState.PENDING.value)

    async def write_sponsors(self, guest: Guest, command: InviteGuest) -> Guest:
        """Sponsors given for a guest who already exists, written to Graph after the record holds them (an
        invitation carries its own `invitedUserSponsors`; an existing user needs `POST /users/{id}/sponsors/$ref`).
        A sponsor Graph does not know is taken off the record and refused (GraphRejectedInput, 422). Idempotent."""
        for sponsor in command.sponsors:
            try:
                await self._directory.add_sponsor(guest.id, sponsor)
            except GraphRejectedInput as exc:
                await self._invite_records.drop_sponsor(guest, sponsor, exc.message)
                exc.details.append({"guestId": guest.id, "sponsor": sponsor})
                raise
        return guest

    async def refuse_a_members_address(self, email: str, guest: DirectoryUser) -> None:
        """A record that took its email from the guest's otherMails (tracked before members' addresses were
        checked) is refused (Forbidden, NotAGuest) when a member owns that address: looked up only then, so the
        usual case costs no read."""
        if email in (guest.mail, external_address(guest.user_principal_name)):
            return
        owner = await self.find_user(email)
        if owner is not None and not owner.is_guest:
            raise Forbidden("this email belongs to a member of the directory, not a guest", code="NotAGuest")

"""Operations that give a guest access again: extend (a later expiry, re-enabling a guest the sweep disabled) and
re-invite (a new redemption link). Before either records anything, the domain lists must admit every address of the
guest as Graph holds it now (`AccessPolicy.check_user_addresses`: mail, otherMails, the address its
userPrincipalName encodes); a guest whose address they refuse is answered 403 DomainNotAllowed."""
from __future__ import annotations

from datetime import datetime, timedelta

from lifecycle.config import Settings
from lifecycle.domain.model import Guest
from lifecycle.ports import Directory
from lifecycle.services.operations import GuestOperations, Operation, OperationResult
from lifecycle.services.records import GuestRecords


class GrantingOperations:
    def __init__(self, *, records: GuestRecords, directory: Directory, settings: Settings,
                 operations: GuestOperations) -> None:
        self._records = records
        self._directory = directory
        self._policy = settings.access_policy
        self._operations = operations

    async def run(self, operation: Operation, guest_id: str, actor: str) -> OperationResult:
        """`GuestOperations.run` after the domain check, on the record and the user read here (each read once: the
        operation starts from them). A user Graph does not show, or that is not a guest, is left to the operation's
        own answers (404 GuestNotFound, 409 for a removed guest, 404 GuestNotInDirectory, 403 NotAGuest)."""
        return await self._run_on(operation, await self._records.load(guest_id), actor)

    async def extend(self, guest_id: str, actor: str, now: datetime, *, expires_at: datetime | None = None,
                     days: int | None = None) -> OperationResult:
        """Extend to `expires_at`, or by `days`, which never shortens access: counted from the later of `now` and
        the guest's current expiry."""
        guest = await self._records.load(guest_id)
        if expires_at is None:
            base = max(now, guest.expires_at) if guest.expires_at else now
            expires_at = base + timedelta(days=days or 0)
        return await self._run_on(self._operations.extending(expires_at), guest, actor)

    async def _run_on(self, operation: Operation, guest: Guest, actor: str) -> OperationResult:
        guest_id = guest.id
        user = await self._directory.get_user(guest_id)
        if user is None or not user.is_guest:
            return await self._operations.run(operation, guest_id, actor, record=guest)
        self._policy.check_user_addresses(user.own_addresses)
        return await self._operations.run(operation, guest_id, actor, known_user=user, record=guest)

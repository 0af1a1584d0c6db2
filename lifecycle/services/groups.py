"""Adding and removing a tracked guest to and from managed groups. An add gives access: the domain lists must admit
every address of the guest as Graph holds it (403 DomainNotAllowed before anything is written); a removal never
needs that."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lifecycle.config import Settings
from lifecycle.domain.model import Guest
from lifecycle.errors import Conflict, Forbidden, NotFound
from lifecycle.ports import Directory, DirectoryUser
from lifecycle.services.audit import Audit
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords


class GroupService:
    def __init__(self, *, records: GuestRecords, directory: Directory, audit: Audit, settings: Settings,
                 clock: Callable[[], datetime], provisioner: Provisioner) -> None:
        self._records = records
        self._directory = directory
        self._audit = audit
        self._policy = settings.access_policy
        self._clock = clock
        self._provisioner = provisioner

    async def add(self, guest_id: str, group_id: str, actor: str) -> Guest:
        self._policy.check_groups([group_id])
        async with self._audit.audited(actor, "group.add", guest_id, groupId=group_id) as notes:
            guest, user = await self._changeable(guest_id)
            self._policy.check_user_addresses(user.own_addresses)
            if group_id in guest.groups and group_id not in guest.removing_groups:
                notes["outcome"] = "unchanged"
                return guest
            now = self._clock()
            guest = await self._records.update(guest, lambda g: g.want_groups(now, (group_id,)))
            guest = await self._provisioner.finish_for_caller(guest, user)
            notes["outcome"] = "pending" if group_id in guest.pending_groups else "succeeded"
        return guest

    async def remove(self, guest_id: str, group_id: str, actor: str) -> Guest:
        self._policy.check_groups([group_id])
        async with self._audit.audited(actor, "group.remove", guest_id, groupId=group_id) as notes:
            guest, user = await self._changeable(guest_id)
            wanted = group_id in guest.groups or group_id in guest.pending_groups
            if not wanted and group_id not in guest.removing_groups:
                notes["outcome"] = "unchanged"
                return guest
            now = self._clock()
            guest = await self._records.update(guest, lambda g: g.unwant_group(now, group_id))
            guest = await self._provisioner.finish_for_caller(guest, user)
            notes["outcome"] = "pending" if group_id in guest.removing_groups else "succeeded"
        return guest

    async def _changeable(self, guest_id: str) -> tuple[Guest, DirectoryUser]:
        """The tracked guest and its user as Graph holds it (a guest: 403 NotAGuest else, 404 when it is gone)."""
        guest = await self._records.load(guest_id)
        if not guest.is_tracked:
            raise Conflict(f"the guest is {guest.state}; its groups cannot change", code="InvalidStateTransition")
        user = await self._directory.get_user(guest_id)
        if user is None:
            raise NotFound(f"the guest '{guest_id}' no longer exists in the directory", code="GuestNotInDirectory")
        if not user.is_guest:
            raise Forbidden("the user is not a guest", code="NotAGuest")
        return guest, user

"""Adding and removing a tracked guest to and from managed groups."""
from __future__ import annotations

from lifecycle.domain.model import Guest, GuestState
from lifecycle.errors import Conflict, Forbidden, NotFound
from lifecycle.services.context import Context
from lifecycle.services.provisioning import Provisioner

_CHANGEABLE = (GuestState.INVITED, GuestState.ACTIVE, GuestState.DISABLED)


class GroupService:
    def __init__(self, context: Context, provisioner: Provisioner) -> None:
        self._context = context
        self._provisioner = provisioner

    async def add(self, guest_id: str, group_id: str, actor: str) -> Guest:
        self._context.policy.check_groups([group_id])
        async with self._context.audited(actor, "group.add", guest_id, groupId=group_id) as notes:
            guest = await self._changeable(guest_id)
            if group_id in guest.groups and group_id not in guest.removing_groups:
                notes["outcome"] = "unchanged"
                return guest
            now = self._context.clock()
            guest = await self._context.update(guest, lambda g: g.want_groups(now, (group_id,)))
            guest = await self._provisioner.finish_for_caller(guest)
            notes["outcome"] = "pending" if group_id in guest.pending_groups else "succeeded"
        return guest

    async def remove(self, guest_id: str, group_id: str, actor: str) -> Guest:
        self._context.policy.check_groups([group_id])
        async with self._context.audited(actor, "group.remove", guest_id, groupId=group_id) as notes:
            guest = await self._changeable(guest_id)
            wanted = group_id in guest.groups or group_id in guest.pending_groups
            if not wanted and group_id not in guest.removing_groups:
                notes["outcome"] = "unchanged"
                return guest
            now = self._context.clock()
            guest = await self._context.update(guest, lambda g: g.unwant_group(now, group_id))
            guest = await self._provisioner.finish_for_caller(guest)
            notes["outcome"] = "pending" if group_id in guest.removing_groups else "succeeded"
        return guest

    async def _changeable(self, guest_id: str) -> Guest:
        guest = await self._context.load(guest_id)
        if guest.state not in _CHANGEABLE:
            raise Conflict(f"the guest is {guest.state}; its groups cannot change", code="InvalidStateTransition")
        user = await self._context.directory.get_user(guest_id)
        if user is None:
            raise NotFound(f"the guest '{guest_id}' no longer exists in the directory", code="GuestNotInDirectory")
        if not user.is_guest:
            raise Forbidden("the user is not a guest", code="NotAGuest")
        return guest

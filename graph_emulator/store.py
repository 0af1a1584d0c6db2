"""In-memory directory: users (live and soft-deleted), groups, memberships and replication lag."""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .responses import graph_timestamp, new_guid, utc_now
from .schema import GROUP_PROPERTIES, USER_PROPERTIES, empty_value

RESTORE_WINDOW = timedelta(days=30)


@dataclass(slots=True)
class UserRecord:
    """One user: every Graph property in `props`, plus what the emulator tracks beside them."""

    props: dict
    lag_remaining: int = 0
    deleted_at: datetime | None = None
    groups_at_deletion: list[str] = field(default_factory=list)
    sponsors: list[str] = field(default_factory=list)
    invitations: list[dict] = field(default_factory=list)
    seq: int = 0

    @property
    def id(self) -> str:
        return self.props["id"]

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def purged(self, now: datetime) -> bool:
        """Deleted longer ago than the 30-day restore window."""
        return self.deleted_at is not None and now - self.deleted_at > RESTORE_WINDOW

    def emails(self) -> list[str]:
        """Addresses that identify this user: mail, otherMails, UPN and SMTP proxy addresses (lower-case)."""
        found = [self.props.get("mail"), self.props.get("userPrincipalName"), *self.props.get("otherMails", [])]
        found += [p.split(":", 1)[1] for p in self.props.get("proxyAddresses", []) if p.lower().startswith("smtp:")]
        return [value.lower() for value in found if value]

    def take_reference(self) -> bool:
        """Resolve a by-id reference: False (and one reference spent) while replication lag remains."""
        if self.lag_remaining > 0:
            self.lag_remaining -= 1
            return False
        return True


@dataclass
class GroupRecord:
    """One group: Graph properties and its member ids in the order they were added."""

    props: dict
    members: dict[str, None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.props["id"]


def blank_user(user_id: str | None = None) -> dict:
    """A user property dict with every catalogued property present (null or empty)."""
    props = {name: empty_value(kind) for name, kind in USER_PROPERTIES.items()}
    now = graph_timestamp(utc_now())
    props.update(id=user_id or new_guid(), accountEnabled=True, createdDateTime=now,
                 signInSessionsValidFromDateTime=now)
    return props


def blank_group(group_id: str | None = None) -> dict:
    """A security group property dict with every catalogued property present."""
    props = {name: empty_value(kind) for name, kind in GROUP_PROPERTIES.items()}
    props.update(id=group_id or new_guid(), createdDateTime=graph_timestamp(utc_now()),
                 mailEnabled=False, securityEnabled=True)
    return props


def upn_key(user: UserRecord) -> tuple[str, int]:
    """A user's place in the userPrincipalName index: its UPN case-folded (Graph compares UPNs ignoring case), then
    its creation sequence number (two users never share a place)."""
    return (user.props.get("userPrincipalName") or "").casefold(), user.seq


class Directory:
    """Users and groups of one tenant. Methods never raise Graph errors: routes decide what to answer.

    Two indexes let a page of a user listing cost what the page holds, not what the directory holds: the users in
    creation order (appended as they come; a purged one is skipped when met) and the users by userPrincipalName
    (sorted again, in one go, the first time it is read after a user was added or purged or a UPN changed)."""

    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.groups: dict[str, GroupRecord] = {}
        self.last_seq = 0
        self._by_seq: list[UserRecord] = []
        self._seqs: list[int] = []
        self._by_upn: list[UserRecord] | None = []
        self._upn_keys: list[tuple[str, int]] = []

    def add_user(self, user: UserRecord) -> UserRecord:
        """Store a user; it gets the next creation sequence number (the order listings and cursors use)."""
        self.last_seq += 1
        user.seq = self.last_seq
        self.users[user.id] = user
        self._by_seq.append(user)
        self._seqs.append(user.seq)
        self._by_upn = None
        return user

    def add_users(self, users: list[UserRecord]) -> None:
        """Store many new users at once (bulk seeding): as `add_user` one by one."""
        for user in users:
            self.last_seq += 1
            user.seq = self.last_seq
            self.users[user.id] = user
        self._by_seq.extend(users)
        self._seqs.extend(user.seq for user in users)
        self._by_upn = None

    def upn_changed(self) -> None:
        """A user's userPrincipalName was changed in place: the UPN index is sorted again when next read."""
        self._by_upn = None

    def live_after(self, seq: int) -> Iterator[UserRecord]:
        """Live users created after the one numbered `seq`, in creation order (read lazily)."""
        for user in self._by_seq[bisect_right(self._seqs, seq):]:
            if not user.deleted and self.users.get(user.id) is user:
                yield user

    def live_by_upn(self, prefix: str, after: tuple[str, int] | None = None) -> Iterator[UserRecord]:
        """Live users whose case-folded userPrincipalName starts with `prefix` (case-folded), by UPN, from the
        place after `after` (an `upn_key`) or from the prefix's start (read lazily)."""
        if self._by_upn is None:
            collecting = gc.isenabled()
            gc.disable()  # a million new keys would set off collections that find nothing to collect
            try:
                placed = sorted((upn_key(user), user) for user in self._by_seq if self.users.get(user.id) is user)
                self._upn_keys = [key for key, _ in placed]
                self._by_upn = [user for _, user in placed]
            finally:
                if collecting:
                    gc.enable()
        users, keys = self._by_upn, self._upn_keys
        start = bisect_right(keys, after) if after is not None and after >= (prefix, 0) else bisect_left(
            keys, (prefix, 0))
        for index in range(start, len(users)):
            if not keys[index][0].startswith(prefix):
                return
            user = users[index]
            if not user.deleted and self.users.get(user.id) is user:
                yield user

    def add_group(self, group: GroupRecord) -> GroupRecord:
        self.groups[group.id] = group
        return group

    def live_users(self) -> list[UserRecord]:
        """Users that are not deleted, in creation order."""
        return [user for user in self.users.values() if not user.deleted]

    def live_user(self, key: str) -> UserRecord | None:
        """A live user by object id or userPrincipalName (case-insensitive), as GET /users/{key} finds it (a deleted
        user whose UPN a live one now holds does not hide it)."""
        user = self.users.get(key.lower())
        if user is None:
            lowered = key.lower()
            user = next((u for u in self.users.values() if not u.deleted
                         and (u.props.get("userPrincipalName") or "").lower() == lowered), None)
        return user if user is not None and not user.deleted else None

    def find_by_email(self, email: str) -> UserRecord | None:
        """The first live user whose mail, otherMails, UPN or SMTP proxy address is `email`."""
        lowered = email.lower()
        return next((user for user in self.live_users() if lowered in user.emails()), None)

    def users_by_email(self, email: str) -> list[UserRecord]:
        """Every user (deleted ones too) whose addresses include `email`."""
        lowered = email.lower()
        return [user for user in self.users.values() if lowered in user.emails()]

    def transitive_members(self, group: GroupRecord) -> tuple[list[UserRecord], list[GroupRecord]]:
        """The users and the groups reachable from `group` through nested membership, each once, in the order
        they are met (depth first, members in the order they were added); safe against cycles."""
        users: dict[str, UserRecord] = {}
        groups: dict[str, GroupRecord] = {group.id: group}
        pending = [iter(list(group.members))]
        while pending:
            member_id = next(pending[-1], None)
            if member_id is None:
                pending.pop()
            elif member_id in self.users and not self.users[member_id].deleted:
                users.setdefault(member_id, self.users[member_id])
            elif member_id in self.groups and member_id not in groups:
                groups[member_id] = self.groups[member_id]
                pending.append(iter(list(self.groups[member_id].members)))
        return list(users.values()), list(groups.values())[1:]

    def remove_group(self, group_id: str) -> None:
        """Delete a group and its place in other groups."""
        self.groups.pop(group_id, None)
        for group in self.groups.values():
            group.members.pop(group_id, None)

    def groups_of(self, user_id: str) -> list[GroupRecord]:
        """Groups that have `user_id` as a member."""
        return [group for group in self.groups.values() if user_id in group.members]

    def soft_delete(self, user: UserRecord, now: datetime) -> None:
        """Move a user to deleted items, remembering its memberships for a restore."""
        user.groups_at_deletion = [group.id for group in self.groups_of(user.id)]
        for group in self.groups_of(user.id):
            group.members.pop(user.id, None)
        user.deleted_at = now
        user.props["deletedDateTime"] = graph_timestamp(now)

    def restore(self, user: UserRecord) -> None:
        """Bring a deleted user back with the memberships it had (groups that still exist)."""
        user.deleted_at = None
        user.props["deletedDateTime"] = None
        for group_id in user.groups_at_deletion:
            if group_id in self.groups:
                self.groups[group_id].members[user.id] = None
        user.groups_at_deletion = []

    def purge(self, user_id: str) -> bool:
        """Remove a user outright (and from every group); False if there was no such user. The indexes skip it."""
        for group in self.groups_of(user_id):
            group.members.pop(user_id, None)
        return self.users.pop(user_id, None) is not None

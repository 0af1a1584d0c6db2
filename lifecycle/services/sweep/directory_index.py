"""The directory pass held compactly: what the sweep needs of each guest Graph lists, in about 100 bytes a guest.

A million guests cannot be held as `DirectoryUser` objects (about 2 KB each with their strings and dates). The sweep
needs of a user only whether it is a guest, whether its account is enabled, whether its invitation is redeemed, its
sponsors (when MIN_SPONSORS is on) and its sign-in activity where it can matter. So an entry is a small int of flags
(Python shares small ints: no memory of its own) keyed by the id's 16 bytes; a tuple only where sponsors or an old
sign-in must be kept. A sign-in newer than the inactivity window cannot make any rule due (the window starts at the
later of the sign-in and the record's baseline), so it is kept as the flag RECENT, and read back as the time of the
pass; the full `SignIn` is kept only for guests that may be inactive (their evidence names its fields)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lifecycle.domain.model import InvitationState
from lifecycle.domain.planning import SignIn
from lifecycle.ports import DirectoryUser

GUEST, ENABLED, DISABLED, REDEEMED, RECENT, NEVER_SIGNED_IN, NO_SIGN_IN = 1, 2, 4, 8, 16, 32, 64
Key = bytes | str
Entry = int | tuple[int, "SignIn | None", "tuple[str, ...] | None"]


def key_of(user_id: str) -> Key:
    """The id as 16 bytes when it is a GUID (every Entra object id), else as it is."""
    if len(user_id) == 36:
        try:
            return bytes.fromhex(user_id.replace("-", ""))
        except ValueError:
            pass
    return user_id


@dataclass
class DirectoryIndex:
    """Every guest the directory pass handed on, by id; `recent_after`: a sign-in after it is RECENT (None:
    sign-ins are not kept). `take` removes an entry as its record is read, so the index shrinks as the sweep goes."""

    recent_after: datetime | None
    read_at: datetime
    entries: dict[Key, Entry] = field(default_factory=dict)
    _sponsor_lists: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    sign_in_found: bool = False  # some guest has a sign-in date, or was returned as never signed in
    guests: int = 0

    def add_page(self, users: Iterable[DirectoryUser]) -> None:
        for user in users:
            self.guests += 1
            self.entries[key_of(user.id)] = self._entry(user)

    def _entry(self, user: DirectoryUser) -> Entry:
        flags = GUEST if user.is_guest else 0
        if user.account_enabled is not None:
            flags |= ENABLED if user.account_enabled else DISABLED
        if user.external_user_state == InvitationState.ACCEPTED.value:
            flags |= REDEEMED
        sign_in, kept = user.sign_in, None
        if sign_in is None:
            flags |= NO_SIGN_IN
        elif sign_in.never_signed_in:
            flags |= NEVER_SIGNED_IN
            self.sign_in_found = True
        else:
            self.sign_in_found = self.sign_in_found or not sign_in.empty
            last = sign_in.last
            if self.recent_after is not None and last is not None and last > self.recent_after:
                flags |= RECENT
            else:
                kept = sign_in
        sponsors = None if user.sponsors is None else self._shared(tuple(user.sponsors))
        return flags if kept is None and sponsors is None else (flags, kept, sponsors)

    def _shared(self, sponsors: tuple[str, ...]) -> tuple[str, ...]:
        """One tuple for every guest with the same sponsors (most guests share a few sponsors)."""
        return self._sponsor_lists.setdefault(sponsors, sponsors)

    def sponsor_ids(self) -> set[str]:
        return {s for sponsors in self._sponsor_lists for s in sponsors}

    def take(self, user_id: str) -> DirectoryUser | None:
        """The user as the sweep reads it (removed from the index), or None when the pass did not list it."""
        entry = self.entries.pop(key_of(user_id), None)
        if entry is None:
            return None
        flags, sign_in, sponsors = (entry, None, None) if isinstance(entry, int) else entry
        if flags & RECENT:
            sign_in = SignIn(last_successful=self.read_at)
        elif flags & NEVER_SIGNED_IN:
            sign_in = SignIn(never_signed_in=True)
        elif sign_in is None and not flags & NO_SIGN_IN:
            sign_in = SignIn()
        enabled = True if flags & ENABLED else False if flags & DISABLED else None
        return DirectoryUser(id=user_id, user_type="Guest" if flags & GUEST else "Member", account_enabled=enabled,
                             external_user_state=InvitationState.ACCEPTED.value if flags & REDEEMED else None,
                             sign_in=sign_in, sponsors=sponsors)

    def __len__(self) -> int:
        return len(self.entries)

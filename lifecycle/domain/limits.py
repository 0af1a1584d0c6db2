"""How much one guest record may hold (pure): what Microsoft Entra allows a guest, and what one Table entity stores.

A record that grew without bound (sponsors added by every invite of the same email) outgrew Table Storage's entity
(≤ 1 MiB, strings ≤ 32K characters): its writes then failed after Graph had been told, and the guest was stuck. So
each list a record keeps has a cap, checked before anything is written, and a change that would pass a cap is
refused (LimitExceeded, 422) with what to send instead. A record stored over a cap before the caps existed stays
operable: only a change that adds to what is over is refused."""
from __future__ import annotations

from dataclasses import dataclass

from lifecycle.domain.model import Guest
from lifecycle.errors import LimitExceeded

MAX_SPONSORS = 5
"""Microsoft Entra: "You can assign a maximum of five sponsors to a single guest user" (External ID, Sponsors field
for B2B users); an invitation's invitedUserSponsors takes up to 5 (POST /users/{id}/sponsors/$ref documents none)."""
MAX_GROUPS = 500
"""Distinct groups across groups, pendingGroups and removingGroups. Each list is a JSON property of the record: 500
ids take 20K of the 32K characters one property holds; the managed groups a guest can want are fewer in practice."""
MAX_ATTRIBUTES = 32
"""Distinct attribute names across attributes and pendingAttributes (the API's allowlist has 9)."""
MAX_ATTRIBUTE_CHARS = 1024
"""Characters of one attribute value (the API's allowlist takes at most 128)."""


@dataclass(frozen=True)
class _Sizes:
    sponsors: int
    groups: int
    attributes: int
    longest_value: int

    @classmethod
    def of(cls, guest: Guest) -> _Sizes:
        values = [*guest.attributes.values(), *guest.pending_attributes.values()]
        return cls(len(set(guest.sponsors)), len({*guest.groups, *guest.pending_groups, *guest.removing_groups}),
                   len({*guest.attributes, *guest.pending_attributes}), max((len(v) for v in values), default=0))


def check_growth(before: Guest | None, after: Guest) -> None:
    """Refuse (LimitExceeded) a change from `before` (None: a new record) to `after` that makes the record hold more
    than a cap allows, and more than it held; a change that adds nothing to what is over passes."""
    was = _Sizes.of(before) if before is not None else _Sizes(0, 0, 0, 0)
    now = _Sizes.of(after)
    if now.sponsors > MAX_SPONSORS and now.sponsors > was.sponsors:
        raise _refused("sponsors", MAX_SPONSORS, now.sponsors, after.id, (
            f"a guest has at most {MAX_SPONSORS} sponsors (Microsoft Entra's limit) and this change would give it "
            f"{now.sponsors}: send only sponsors it lacks, up to {MAX_SPONSORS} in all, or none (it keeps those "
            f"it has: {len(set(before.sponsors)) if before else 0})"))
    if now.groups > MAX_GROUPS and now.groups > was.groups:
        raise _refused("groups", MAX_GROUPS, now.groups, after.id, (
            f"a guest is in at most {MAX_GROUPS} of this app's groups and this change would make it {now.groups}: "
            "remove it from groups it no longer needs first"))
    if now.attributes > MAX_ATTRIBUTES and now.attributes > was.attributes:
        raise _refused("attributes", MAX_ATTRIBUTES, now.attributes, after.id, (
            f"a guest record keeps at most {MAX_ATTRIBUTES} attributes: send fewer"))
    if now.longest_value > MAX_ATTRIBUTE_CHARS and now.longest_value > was.longest_value:
        raise _refused("attributeChars", MAX_ATTRIBUTE_CHARS, now.longest_value, after.id, (
            f"an attribute value holds at most {MAX_ATTRIBUTE_CHARS} characters: shorten it"))


def _refused(what: str, limit: int, would: int, guest_id: str, message: str) -> LimitExceeded:
    return LimitExceeded(message, details=[{"limit": what, "max": limit, "wouldBe": would, "guestId": guest_id}])

"""How a record must change to say what the directory pass found (pure): drift, sponsors, an announcement ended."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from lifecycle.domain.drift import Drift, drift
from lifecycle.domain.model import Guest
from lifecycle.domain.planning import ExpiryPolicy, unsponsored
from lifecycle.ports import DirectoryUser
from lifecycle.services.directory_view import directory_view

SPONSORED_AGAIN = "sponsored again"
EXPANSION_LIMIT = 20  # sponsors Graph returns per expanded user: a list this long may be incomplete


@dataclass(frozen=True)
class Reconciliation:
    guest: Guest
    kind: str  # what `domain.drift` found: gone, redeemed, disabled / enabled / restored outside the app
    transition: Callable[[Guest], Guest]
    event: str | None


def change_of(guest: Guest, user: DirectoryUser | None, now: datetime, policy: ExpiryPolicy,
              absent_sponsors: frozenset[str], min_sponsors: int) -> Reconciliation | None:
    """The one change the record needs, or None: what Graph shows of the user first, else the sponsors the pass
    read, else the end of a guest.unsponsored announcement for a guest that has enough active sponsors again."""
    found = _directory_change(guest, user, now) or _sponsors_change(guest, user, now, min_sponsors)
    if found is not None:
        return Reconciliation(guest, found.kind, found.transition, found.event)
    if guest.unsponsored_at is not None and policy.min_sponsors > 0 \
            and not unsponsored(guest, policy, absent_sponsors):
        return Reconciliation(guest, SPONSORED_AGAIN, _announcement_ended(now), None)
    return None


def _directory_change(guest: Guest, user: DirectoryUser | None, now: datetime) -> Drift | None:
    """How the directory says the record changed (`domain.drift`), or None. A record changed after the pass began
    (an HTTP operation meanwhile) is newer than the pass: it is left as it is, now and when the write is retried."""
    if guest.updated_at > now:
        return None
    found = drift(guest, directory_view(user), now)
    if found is None:
        return None
    change = found.transition

    def unless_newer(current: Guest) -> Guest:
        return current if current.updated_at > now else change(current)
    return replace(found, transition=unless_newer)


def _announcement_ended(now: datetime) -> Callable[[Guest], Guest]:
    """The guest has enough active sponsors again: its guest.unsponsored announcement ends (a later one starts a
    new grace period)."""
    return lambda g: g if g.unsponsored_at is None else replace(g, unsponsored_at=None, updated_at=now)


def _sponsors_change(guest: Guest, user: DirectoryUser | None, now: datetime, min_sponsors: int) -> Drift | None:
    """MIN_SPONSORS > 0: the record takes the sponsors the directory pass read (complete only below Graph's 20 per
    expansion); a guest that has enough again loses its guest.unsponsored announcement."""
    if min_sponsors <= 0 or user is None or user.sponsors is None or len(user.sponsors) >= EXPANSION_LIMIT \
            or guest.is_removed or guest.updated_at > now:
        return None
    found = tuple(user.sponsors)
    if {s.lower() for s in found} == {s.lower() for s in guest.sponsors}:
        return None

    def transition(current: Guest) -> Guest:
        if current.updated_at > now:
            return current
        announced = current.unsponsored_at if len({s.lower() for s in found}) < min_sponsors else None
        return replace(current, sponsors=found, unsponsored_at=announced, updated_at=now)
    return Drift("sponsors", transition, None)

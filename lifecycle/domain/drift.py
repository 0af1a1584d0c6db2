"""Where a record and the directory disagree, and the change that makes the record say what Graph shows (pure).

The app is not the only writer: an admin restores or re-enables a guest in the Entra portal, deletes or blocks one,
a restore's answer is lost. Both the sweep's directory pass and an operation that finds its work already done by the
record (before answering "unchanged") set the record against what Graph shows with `drift`, so neither ever acts on,
or answers from, a record that Graph contradicts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lifecycle.domain import events
from lifecycle.domain.model import Guest, GuestState, InvitationState

GONE = "gone"
REDEEMED = "redeemed"
DISABLED_OUTSIDE = "disabled outside the app"
ENABLED_OUTSIDE = "enabled outside the app"
RESTORED_OUTSIDE = "restored outside the app"


@dataclass(frozen=True)
class DirectoryView:
    """What Graph shows of the guest's user: `present` in the directory (not deleted), and if so whether its
    account is enabled (None: not read) and its invitation redeemed."""

    present: bool
    account_enabled: bool | None = None
    redeemed: bool = False


@dataclass(frozen=True)
class Drift:
    """How the directory says the record changed: what (`kind`), the idempotent change, and the event it is."""

    kind: str
    transition: Callable[[Guest], Guest]
    event: str | None


def drift(guest: Guest, view: DirectoryView, now: datetime) -> Drift | None:
    """The change that makes the record say what `view` shows, or None when they agree (or the record has an
    operation under way: its resumption reads Graph itself). A purged record is never brought back. Several
    differences at once (redeemed and re-enabled, say) are one change; its event is the state's."""
    if guest.pending_action or guest.state in (GuestState.PURGED, GuestState.INVITING):
        return None
    if not view.present:
        return Drift(GONE, lambda g: g.gone_from_directory(now), None) if guest.is_tracked else None
    if guest.is_removed:
        enabled = view.account_enabled is not False
        return Drift(RESTORED_OUTSIDE, lambda g: g.restored_outside(now, enabled, view.redeemed), events.RESTORED)
    found: list[Drift] = []
    if view.redeemed and guest.invitation_state is not InvitationState.ACCEPTED:
        found.append(Drift(REDEEMED, lambda g: g.redeemed(now), events.REDEEMED))
    if view.account_enabled is False and guest.is_live:
        found.append(Drift(DISABLED_OUTSIDE, lambda g: g.disabled_outside(now), events.DISABLED))
    if view.account_enabled is True and guest.state is GuestState.DISABLED:
        found.append(Drift(ENABLED_OUTSIDE, lambda g: g.enabled_outside(now), events.ENABLED))
    if not found:
        return None
    return Drift(", ".join(d.kind for d in found), _in_turn([d.transition for d in found]), found[-1].event)


def _in_turn(transitions: list[Callable[[Guest], Guest]]) -> Callable[[Guest], Guest]:
    def apply(guest: Guest) -> Guest:
        for transition in transitions:
            guest = transition(guest)
        return guest
    return apply

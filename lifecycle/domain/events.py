"""Lifecycle events (CloudEvents-style) that flows react to, e.g. to mail a sponsor."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from lifecycle.domain.limits import MAX_SPONSORS
from lifecycle.domain.model import SWEEP_REASONS, Guest


@dataclass(frozen=True)
class Event:
    """A lifecycle event written to the outbox with the state change that caused it (lifecycle.ports re-exports it
    for the ports that carry events)."""

    type: str
    guest_id: str
    data: dict[str, Any]
    id: str = ""
    time: datetime | None = None


INVITED = "guest.invited"
EXPIRING = "guest.expiring"
DISABLED = "guest.disabled"
ENABLED = "guest.enabled"
EXTENDED = "guest.extended"
DELETED = "guest.deleted"
RESTORED = "guest.restored"
REDEEMED = "guest.redeemed"
ADOPTED = "guest.adopted"  # an existing guest is tracked from now on (instead of guest.invited)
REINVITED = "guest.reinvited"  # with the new inviteRedeemUrl
GROUP_ADDED = "guest.group-added"  # with groupIds: the managed groups the guest was added to in Graph
GROUP_REMOVED = "guest.group-removed"  # with groupIds: the managed groups it was removed from
PURGED = "guest.purged"  # deleted longer than Entra keeps it: gone for good, the record kept for audit
ATTESTATION_DUE = "guest.attestation-due"  # ATTESTATION_DAYS: a sponsor's attestation is due (with dueAt, portal)
UNSPONSORED = "guest.unsponsored"  # fewer sponsors than MIN_SPONSORS (to LIFECYCLE_FALLBACK_NOTIFY, with disableAfter)
EVENT_TYPES = (INVITED, ADOPTED, REDEEMED, EXPIRING, DISABLED, ENABLED, EXTENDED, DELETED, RESTORED, REINVITED,
               GROUP_ADDED, GROUP_REMOVED, PURGED, ATTESTATION_DUE, UNSPONSORED)
PORTAL_PATH = "/api/portal"  # the sponsor page, linked from guest.attestation-due


MAX_TEXT = 2048
"""Characters of one text value an event carries (a redeem link is a few hundred): event data stays bounded, so the
outbox row written with a record change always fits Table Storage, whatever the record holds."""


def guest_event(kind: str, guest: Guest, now: datetime, **extra: Any) -> Event:
    """The event of a change to `guest`, its data bounded: at most MAX_SPONSORS sponsors (with `sponsorsOmitted`
    when a record stored before the limits held more) and text values of at most MAX_TEXT characters."""
    sponsors = list(dict.fromkeys(guest.sponsors))
    data: dict[str, Any] = {
        "guestId": guest.id, "email": guest.email, "displayName": guest.display_name, "state": guest.state.value,
        "expiresAt": guest.expires_at.isoformat() if guest.expires_at else None, "sponsors": sponsors[:MAX_SPONSORS],
        **extra,
    }
    if len(sponsors) > MAX_SPONSORS:
        data["sponsorsOmitted"] = len(sponsors) - MAX_SPONSORS
    bounded = {key: value[:MAX_TEXT] if isinstance(value, str) else value for key, value in data.items()}
    return Event(type=kind, guest_id=guest.id, data=bounded, id=uuid.uuid4().hex, time=now)


def disabled_data(guest: Guest, grace_days: int) -> dict[str, Any]:
    """What guest.disabled adds: the `reason` (disabledReason) and `deleteAfter`, the date the sweep deletes the
    guest (disabled by a rule of the sweep, or a sponsor: EXPIRY_GRACE_DAYS after), null when it never will (disabled
    by hand or outside the app)."""
    reason = guest.disabled_reason
    follows = guest.disabled_at + timedelta(days=grace_days) if guest.disabled_at and reason in SWEEP_REASONS else None
    return {"reason": reason.value if reason else None, "deleteAfter": follows.isoformat() if follows else None}


def group_events(before: Guest, after: Guest, now: datetime) -> list[Event]:
    """guest.group-added / guest.group-removed for the groups a record change added or removed (one event each,
    the groups in `groupIds`)."""
    added = [g for g in after.groups if g not in before.groups]
    removed = [g for g in before.groups if g not in after.groups]
    return ([guest_event(GROUP_ADDED, after, now, groupIds=added)] if added else []) + (
        [guest_event(GROUP_REMOVED, after, now, groupIds=removed)] if removed else [])


def with_fallback(event: Event, fallback: str) -> Event:
    """The event with `fallbackNotify` (LIFECYCLE_FALLBACK_NOTIFY) when it names no sponsor: who a flow tells
    instead."""
    if not fallback or event.data.get("sponsors"):
        return event
    return replace(event, data={**event.data, "fallbackNotify": fallback})

"""Lifecycle events (CloudEvents-style) that flows react to, e.g. to mail a sponsor."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from lifecycle.domain.limits import MAX_SPONSORS
from lifecycle.domain.model import Guest
from lifecycle.ports import Event

INVITED = "guest.invited"
EXPIRING = "guest.expiring"
DISABLED = "guest.disabled"
ENABLED = "guest.enabled"
EXTENDED = "guest.extended"
DELETED = "guest.deleted"
RESTORED = "guest.restored"
REDEEMED = "guest.redeemed"
ADOPTED = "guest.adopted"  # an existing guest is tracked from now on (instead of guest.invited)
EVENT_TYPES = (INVITED, ADOPTED, REDEEMED, EXPIRING, DISABLED, ENABLED, EXTENDED, DELETED, RESTORED)


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

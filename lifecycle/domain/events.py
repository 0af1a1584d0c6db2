"""Lifecycle events (CloudEvents-style) that flows react to, e.g. to mail a sponsor."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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


def guest_event(kind: str, guest: Guest, now: datetime, **extra: Any) -> Event:
    data = {
        "guestId": guest.id, "email": guest.email, "displayName": guest.display_name, "state": guest.state.value,
        "expiresAt": guest.expires_at.isoformat() if guest.expires_at else None, "sponsors": list(guest.sponsors),
        **extra,
    }
    return Event(type=kind, guest_id=guest.id, data=data, id=uuid.uuid4().hex, time=now)

"""Records the tests start from: each builder gives a valid record, any field overridden by keyword."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.domain.model import EmailClaim, Guest, GuestState, InvitationState
from lifecycle.http.schemas import InviteRequest

DAY = timedelta(days=1)


def guest_id(n: int) -> str:
    """The n-th guest's object id (a version-4 UUID ending in n)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def guest(n: int = 1, **fields: Any) -> Guest:
    """The n-th guest as it is first recorded (g{n}@fabrikam.com), with `fields` set."""
    return Guest(id=guest_id(n), email=f"g{n}@fabrikam.com", **fields)


def active_guest(n: int = 1, *, now: datetime, **fields: Any) -> Guest:
    """The n-th guest, invited ten days before `now` and redeemed: active, accepted, expiring in 100 days."""
    base = guest(n, state=GuestState.ACTIVE, invitation_state=InvitationState.ACCEPTED, expires_at=now + 100 * DAY,
                 invited_at=now - 10 * DAY, created_at=now - 10 * DAY, updated_at=now - 10 * DAY)
    return replace(base, **fields)


def unlinked_claim(email: str, *, owner: str = "dead", claimed_at: datetime | None = None,
                   **request: Any) -> EmailClaim:
    """An email claimed by `owner` and linked to no guest yet (the write-ahead of an invitation), its request the
    invite body `{"email": email, **request}`."""
    return EmailClaim(email=email, owner=owner, claimed_at=claimed_at or datetime.now(UTC),
                      request={"email": email, **request})


def invite_command(services: Any, email: str, **body: Any) -> Any:
    """The command the HTTP layer makes of the invite body `{"email": email, **body}`, at the services' clock."""
    request = InviteRequest.model_validate_json(json.dumps({"email": email, **body}))
    return request.command(services.clock(), services.settings.guest_default_ttl_days)


async def invited_id(services: Any, email: str, **body: Any) -> str:
    """Invite through the services (no HTTP), as the test actor; the new guest's id."""
    outcome = await services.invitations.invite(invite_command(services, email, **body), "test")
    return outcome.guest.id

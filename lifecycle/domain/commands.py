"""Commands: what a caller asked the services to do, already validated and resolved (pure, no I/O).

The HTTP layer builds them from the wire schemas; the services take nothing else. A command is a fact of the moment it
was made: it is stored as it is (the email claim keeps the invitation's command) and never checked again against a
later "now", so the sweep finishing an old invitation keeps everything the caller asked for."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STORED_FORMAT = "invite-guest/1"


@dataclass(frozen=True)
class InviteGuest:
    """Invite a guest, or adopt the guest who already exists for the email.

    `expires_at` is resolved when the command is made (the caller's time or number of days, else the default time to
    live); `expiry_chosen` says the caller named it, which is what moves the expiry of a guest already tracked."""

    email: str
    expires_at: datetime
    expiry_chosen: bool = False
    display_name: str | None = None
    redirect_url: str | None = None
    send_invitation_message: bool = False
    message: str | None = None
    message_language: str | None = None
    cc_recipients: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    sponsors: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()  # Graph user property -> value, in the caller's order

    @property
    def attribute_values(self) -> dict[str, str]:
        return dict(self.attributes)

    def to_stored(self) -> dict[str, Any]:
        """The command as the email claim stores it (JSON types only)."""
        return {
            "format": STORED_FORMAT, "email": self.email, "expires_at": self.expires_at.isoformat(),
            "expiry_chosen": self.expiry_chosen, "display_name": self.display_name, "redirect_url": self.redirect_url,
            "send_invitation_message": self.send_invitation_message, "message": self.message,
            "message_language": self.message_language, "cc_recipients": list(self.cc_recipients),
            "group_ids": list(self.group_ids), "sponsors": list(self.sponsors),
            "attributes": [list(pair) for pair in self.attributes],
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any], *, email: str, claimed_at: datetime,
                    default_ttl_days: int) -> InviteGuest:
        """The command a claim stored. Claims written before commands existed hold the validated wire body
        (camelCase, expiry as given): it is read as it was meant when the claim was made, never re-validated."""
        if stored.get("format") == STORED_FORMAT:
            return cls(
                email=stored["email"], expires_at=datetime.fromisoformat(stored["expires_at"]),
                expiry_chosen=bool(stored.get("expiry_chosen")), display_name=stored.get("display_name"),
                redirect_url=stored.get("redirect_url"),
                send_invitation_message=bool(stored.get("send_invitation_message")), message=stored.get("message"),
                message_language=stored.get("message_language"),
                cc_recipients=tuple(stored.get("cc_recipients") or ()), group_ids=tuple(stored.get("group_ids") or ()),
                sponsors=tuple(stored.get("sponsors") or ()),
                attributes=tuple((str(k), str(v)) for k, v in stored.get("attributes") or ()))
        return _from_wire_body(stored, email, claimed_at, default_ttl_days)


def _from_wire_body(body: dict[str, Any], email: str, claimed_at: datetime, default_ttl_days: int) -> InviteGuest:
    """A claim of the first format: the InviteRequest body as validated when the claim was made."""
    chosen = body.get("expiresAt") is not None or body.get("expiresInDays") is not None
    if body.get("expiresAt") is not None:
        expires_at = datetime.fromisoformat(str(body["expiresAt"]).replace("Z", "+00:00"))
    else:
        expires_at = claimed_at + timedelta(days=int(body.get("expiresInDays") or default_ttl_days))
    attributes = body.get("attributes") or {}
    return InviteGuest(
        email=str(body.get("email") or email), expires_at=expires_at, expiry_chosen=chosen,
        display_name=body.get("displayName"), redirect_url=body.get("redirectUrl"),
        send_invitation_message=bool(body.get("sendInvitationMessage")), message=body.get("message"),
        message_language=body.get("messageLanguage"),
        cc_recipients=tuple(str(c) for c in body.get("ccRecipients") or ()),
        group_ids=tuple(str(g) for g in body.get("groups") or ()),
        sponsors=tuple(str(s) for s in body.get("sponsors") or ()),
        attributes=tuple((str(k), str(v)) for k, v in attributes.items() if v is not None))

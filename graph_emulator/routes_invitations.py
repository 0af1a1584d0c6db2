"""Graph handler for POST /invitations: invite a new guest, re-invite an existing one, or reset redemption."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .errors import bad_request, not_found, request_bad_request
from .invitation_policy import check_invitation_domain
from .lookup import visible_user
from .responses import context_url, graph_json, graph_timestamp, json_object, new_guid, utc_now
from .schema import TENANT_ID
from .state import Emulator
from .store import UserRecord, blank_user

MAX_SPONSORS = 5
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# invitedUserEmailAddress may not contain ~ ! # $ % ^ & * ( ) + = [ ] { } \ / | ; : " < > ? ,
# (the property's description in Graph's v1.0 $metadata), and mail/otherMails hold no accented characters.
REFUSED_EMAIL_CHARACTERS = frozenset('~!#$%^&*()+=[]{}\\/|;:"<>?,')
_FIELDS = frozenset({"invitedUserEmailAddress", "inviteRedirectUrl", "invitedUserDisplayName",
                     "sendInvitationMessage", "invitedUserMessageInfo", "invitedUserType", "invitedUserSponsors",
                     "resetRedemption", "invitedUser", "id", "inviteRedeemUrl", "status"})
_MISMATCH = "The email you're using to invite this user doesn't match any emails on the user object"


@dataclass
class InvitationRequest:
    """A validated invitation body."""

    email: str
    redirect_url: str
    display_name: str | None = None
    send_message: bool = False
    message_info: dict = field(default_factory=dict)
    user_type: str = "Guest"
    sponsors: list[str] = field(default_factory=list)
    reset: bool = False
    invited_user_id: str | None = None


async def create_invitation(request: Request, emulator: Emulator) -> Response:
    """POST /invitations → 201 with the invitation; the invited user's id is in `invitedUser.id`. 403 when the
    tenant's collaboration restrictions refuse the email's domain (invitation_policy)."""
    invite = parse_invitation(await json_object(request))
    check_invitation_domain(emulator.switches, invite.email)
    user = reset_redemption(emulator, invite) if invite.reset else invite_by_email(emulator, invite)
    redeem_url = _redeem_url(user.id)
    invitation_id = new_guid()
    user.invitations.append({"id": invitation_id, "at": graph_timestamp(utc_now()), "inviteRedeemUrl": redeem_url,
                             "inviteRedirectUrl": invite.redirect_url, "sendInvitationMessage": invite.send_message,
                             "invitedUserMessageInfo": invite.message_info, "resetRedemption": invite.reset})
    return graph_json(_invitation_body(request, invite, user, invitation_id, redeem_url), status=201)


def parse_invitation(body: dict) -> InvitationRequest:
    """Validate an invitation body; 400 BadRequest for anything Graph would refuse."""
    unknown = [key for key in body if key not in _FIELDS and not key.startswith("@odata.")]
    if unknown:
        raise bad_request(f"Invalid property '{unknown[0]}'.")
    return InvitationRequest(
        email=_email(body.get("invitedUserEmailAddress")),
        redirect_url=_redirect_url(body.get("inviteRedirectUrl")),
        display_name=_optional_string(body, "invitedUserDisplayName"),
        send_message=_flag(body, "sendInvitationMessage"),
        message_info=_message_info(body.get("invitedUserMessageInfo")),
        user_type=_user_type(body.get("invitedUserType")),
        sponsors=_sponsors(body.get("invitedUserSponsors")),
        reset=_flag(body, "resetRedemption"),
        invited_user_id=_invited_user_id(body.get("invitedUser")),
    )


def _email(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("Required property 'invitedUserEmailAddress' is missing.")
    if not _EMAIL.match(value.strip()) or _refused_characters(value.strip()):
        raise bad_request(f"The email address '{value}' is not valid.")
    return value.strip()


def _refused_characters(email: str) -> bool:
    local = email.rpartition("@")[0]
    return any(char in REFUSED_EMAIL_CHARACTERS for char in email) or not local.isascii()


def _redirect_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("Required property 'inviteRedirectUrl' is missing.")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise bad_request(f"The inviteRedirectUrl '{value}' is not a valid absolute URL.")
    return value.strip()


def _optional_string(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"Invalid value for property '{name}'.")
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"Invalid value for property '{name}'.")
    return bool(value)


def _message_info(value: object) -> dict:
    info = {"messageLanguage": None, "ccRecipients": [], "customizedMessageBody": None}
    if value is None:
        return info
    if not isinstance(value, dict):
        raise bad_request("Invalid value for property 'invitedUserMessageInfo'.")
    for name in ("messageLanguage", "customizedMessageBody"):
        info[name] = _optional_string(value, name)
    info["ccRecipients"] = _cc_recipients(value.get("ccRecipients"))
    return info


def _cc_recipients(value: object) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 1:
        raise bad_request("invitedUserMessageInfo.ccRecipients takes at most one recipient.")
    recipients = []
    for item in value:
        address = item.get("emailAddress", {}).get("address") if isinstance(item, dict) else None
        if not isinstance(address, str) or not _EMAIL.match(address):
            raise bad_request("Each ccRecipient needs emailAddress.address with a valid email address.")
        name = item["emailAddress"].get("name")
        recipients.append({"emailAddress": {"name": name, "address": address}})
    return recipients


def _user_type(value: object) -> str:
    if value is None:
        return "Guest"
    if not isinstance(value, str) or value.lower() not in ("guest", "member"):
        raise bad_request(f"Invalid invitedUserType '{value}': expected Guest or Member.")
    return value.title()


def _sponsors(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("Invalid value for property 'invitedUserSponsors'.")
    if len(value) > MAX_SPONSORS:
        raise bad_request(f"At most {MAX_SPONSORS} sponsors can be assigned to an invited user.")
    ids = [item.get("id") if isinstance(item, dict) else None for item in value]
    if not all(isinstance(sponsor, str) and sponsor for sponsor in ids):
        raise bad_request("Each of invitedUserSponsors needs an 'id'.")
    return ids


def _invited_user_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise bad_request("invitedUser needs an 'id'.")
    return value["id"]


def invite_by_email(emulator: Emulator, invite: InvitationRequest) -> UserRecord:
    """The existing guest with this email, or a new guest; 400 for a member's or a verified domain's email."""
    existing = emulator.directory.find_by_email(invite.email)
    if existing is not None and existing.props.get("userType") != "Guest":
        raise request_bad_request(f"The invited user already exists in the directory as object ID: {existing.id}")
    if existing is not None:
        return existing
    _require_sponsors(emulator, invite.sponsors)
    domain = invite.email.rpartition("@")[2].lower()
    if domain in emulator.switches.tenant_domains:
        raise bad_request(f"The invited user's email domain '{domain}' is a verified domain of this "
                          "organization: its users are members, not guests.")
    return emulator.directory.add_user(_new_guest(emulator, invite))


def _require_sponsors(emulator: Emulator, sponsors: list[str]) -> None:
    """Sponsors are references: one that names no live user answers 404 naming it, as a reference write for a
    missing object does (group-post-members: "404 Not Found when the object being added doesn't exist")."""
    for sponsor in sponsors:
        if emulator.directory.live_user(sponsor) is None:
            raise not_found(sponsor)


def _new_guest(emulator: Emulator, invite: InvitationRequest) -> UserRecord:
    local, _, domain = invite.email.rpartition("@")
    nickname = f"{local}_{domain}#EXT#"
    now = graph_timestamp(utc_now())
    props = blank_user()
    props.update(displayName=invite.display_name or local, mail=invite.email, otherMails=[invite.email],
                 proxyAddresses=[f"SMTP:{invite.email}"], mailNickname=nickname,
                 userPrincipalName=f"{nickname}@{emulator.default_domain}", userType=invite.user_type,
                 externalUserState="PendingAcceptance", externalUserStateChangeDateTime=now,
                 creationType="Invitation")
    return UserRecord(props, lag_remaining=emulator.switches.replication_lag, sponsors=list(invite.sponsors))


def reset_redemption(emulator: Emulator, invite: InvitationRequest) -> UserRecord:
    """resetRedemption: same object id and groups; the email must be the user's mail or one of otherMails."""
    if invite.invited_user_id is None:
        raise bad_request("resetRedemption needs invitedUser with the id of the user to reset.")
    user = visible_user(emulator, invite.invited_user_id)
    addresses = [user.props.get("mail"), *user.props.get("otherMails", [])]
    if invite.email.lower() not in [address.lower() for address in addresses if address]:
        raise bad_request(_MISMATCH)
    user.props.update(externalUserState="PendingAcceptance",
                      externalUserStateChangeDateTime=graph_timestamp(utc_now()))
    return user


def invitation_status(user: UserRecord) -> str:
    """The invitation's own status (PendingAcceptance | Completed | InProgress | Error; never `Accepted`, which
    is the user's externalUserState): Completed for a user who has already redeemed (v1.0 invitation-post example;
    msgraph-sdk models/invitation.py)."""
    return "Completed" if user.props.get("externalUserState") == "Accepted" else "PendingAcceptance"


def _redeem_url(user_id: str) -> str:
    target = (f"https://invitations.microsoft.com/redeem/?tenant={TENANT_ID}&user={user_id}"
              f"&ticket={secrets.token_urlsafe(24)}&ver=2.0")
    return "https://login.microsoftonline.com/redeem?rd=" + quote(target, safe="")


def _invitation_body(request: Request, invite: InvitationRequest, user: UserRecord, invitation_id: str,
                     redeem_url: str) -> dict:
    return {
        "@odata.context": context_url(request, "invitations/$entity"),
        "id": invitation_id,
        "inviteRedeemUrl": redeem_url,
        "invitedUserDisplayName": invite.display_name,
        "invitedUserType": invite.user_type,
        "invitedUserEmailAddress": invite.email,
        "sendInvitationMessage": invite.send_message,
        "resetRedemption": invite.reset,
        "inviteRedirectUrl": invite.redirect_url,
        "status": invitation_status(user),
        "invitedUserMessageInfo": invite.message_info,
        "invitedUser": {"id": user.id},
    }

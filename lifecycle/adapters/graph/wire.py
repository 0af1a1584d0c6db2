"""Graph's JSON as the ports' types, and the request bodies the app writes: no SDK model is built for a user, a
group, an invitation or a page (`bench.parse_cost` measures why)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiota_abstractions.base_request_builder import BaseRequestBuilder
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from lifecycle.domain.planning import SignIn
from lifecycle.errors import (
    GraphError,
)
from lifecycle.ports import (
    DirectoryUser,
    Invitation,
    InvitationRequest,
)

GUEST_PAGE = 999  # Graph's largest page
SIGN_IN_PAGE = 500  # the largest page when signInActivity is selected
EXPAND_PAGE = 100  # the largest page of a user list with $expand (Graph serves a larger $top as 100)


@dataclass(frozen=True)
class GroupFacts:
    """What of a group decides whether it takes member writes at all."""

    group_types: tuple[str, ...] = ()
    mail_enabled: bool = False
    on_premises_sync_enabled: bool = False
    is_assignable_to_role: bool = False


def group_refusal(group: GroupFacts) -> str:
    """Why a group refuses member writes whatever you retry, or "": dynamic membership, mastered on-premises,
    role-assignable, mail-enabled security and distribution groups (group-post-members.md: "This API supports only
    security and Microsoft 365 groups", role-assignable groups need RoleManagement.ReadWrite.Directory;
    groups-overview.md: mail-enabled security and distribution groups are read-only in Graph)."""
    kinds = [kind.lower() for kind in group.group_types]
    if "dynamicmembership" in kinds:
        return "the group's membership is dynamic (set by its membership rule)"
    if group.mail_enabled and "unified" not in kinds:
        return ("the group is a mail-enabled security group or a distribution list, which Graph cannot change "
                "(manage its members in Exchange)")
    if group.on_premises_sync_enabled:
        return "the group is synchronised from on-premises Active Directory"
    if group.is_assignable_to_role:
        return "the group is role-assignable (its members need RoleManagement.ReadWrite.Directory)"
    return ""


def json_user(item: dict[str, Any], sign_in_selected: bool = False) -> DirectoryUser:
    """A Graph user object (JSON, as `$select`ed) as the app reads it; no SDK model is built. With
    `sign_in_selected`, a user without `signInActivity` never signed in (Graph leaves the property out for them)."""
    activity = item.get("signInActivity")
    never = SignIn(never_signed_in=True) if sign_in_selected else None
    return DirectoryUser(
        id=item["id"], user_type=item.get("userType") or "", display_name=item.get("displayName") or "",
        mail=(item.get("mail") or "").lower(), other_mails=tuple(m.lower() for m in item.get("otherMails") or []),
        user_principal_name=item.get("userPrincipalName") or "", external_user_state=item.get("externalUserState"),
        account_enabled=item.get("accountEnabled"), created_at=graph_date(item.get("createdDateTime")),
        sign_in=sign_in_of(activity) if "signInActivity" in item else never,
        sponsors=tuple(s["id"] for s in item["sponsors"]) if "sponsors" in item else None,
        proxy_addresses=tuple(p.split(":", 1)[1].lower() for p in item.get("proxyAddresses") or []
                              if p.lower().startswith("smtp:")))


def page_size(with_sign_in: bool, sponsors: bool) -> int:
    """The largest page Graph serves a guest listing: 100 with `$expand`, 500 with signInActivity, else 999."""
    return EXPAND_PAGE if sponsors else SIGN_IN_PAGE if with_sign_in else GUEST_PAGE


def json_group(item: dict[str, Any]) -> GroupFacts:
    """A Graph group object (JSON) as far as member writes go."""
    return GroupFacts(group_types=tuple(item.get("groupTypes") or ()), mail_enabled=bool(item.get("mailEnabled")),
                      on_premises_sync_enabled=bool(item.get("onPremisesSyncEnabled")),
                      is_assignable_to_role=bool(item.get("isAssignableToRole")))


def json_invitation(body: dict[str, Any]) -> Invitation:
    """Graph's invitation answer (JSON) as the app reads it."""
    user_id = (body.get("invitedUser") or {}).get("id")
    if not user_id:
        raise GraphError("invite: Graph returned no invited user")
    return Invitation(user_id=user_id, redeem_url=body.get("inviteRedeemUrl") or "",
                      status=body.get("status") or "PendingAcceptance")


def json_page(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A collection page (JSON): its items and the `@odata.nextLink` to follow, if any."""
    return list(body.get("value") or []), body.get("@odata.nextLink")


def sign_in_of(activity: dict[str, Any] | None) -> SignIn:
    activity = activity or {}
    return SignIn(last_successful=graph_date(activity.get("lastSuccessfulSignInDateTime")),
                  last_interactive=graph_date(activity.get("lastSignInDateTime")),
                  last_non_interactive=graph_date(activity.get("lastNonInteractiveSignInDateTime")))


def graph_date(value: str | None) -> datetime | None:
    """A Graph date, or None for none: null, "", and the minimum date `0001-01-01T00:00:00Z` that user-list.md's
    signInActivity example shows for a sign-in that never happened (read as a date it would make the guest
    inactive for two thousand years)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def json_request(method: Method, builder: BaseRequestBuilder, body: dict[str, Any]) -> RequestInformation:
    """A request to the builder's URL with a JSON body written by the app (the SDK's models are skipped)."""
    info = RequestInformation(method, builder.url_template, builder.path_parameters)
    info.headers.try_add("Accept", "application/json")
    info.set_stream_content(json.dumps(body).encode(), "application/json")
    return info


def invitation_body(request: InvitationRequest) -> dict[str, Any]:
    """POST /invitations for a new guest (Graph's invitation resource, camelCase, nulls left out)."""
    body: dict[str, Any] = {
        "invitedUserEmailAddress": request.email, "inviteRedirectUrl": request.redirect_url,
        "invitedUserDisplayName": request.display_name, "sendInvitationMessage": request.send_message,
        "invitedUserType": "Guest", "invitedUserMessageInfo": _message_info(request),
        "invitedUserSponsors": [{"id": sponsor} for sponsor in request.sponsors] or None}
    return {name: value for name, value in body.items() if value is not None}


def _message_info(request: InvitationRequest) -> dict[str, Any] | None:
    if not (request.message or request.message_language or request.cc_recipients):
        return None
    info: dict[str, Any] = {
        "customizedMessageBody": request.message, "messageLanguage": request.message_language,
        "ccRecipients": [{"emailAddress": {"address": a}} for a in request.cc_recipients] or None}
    return {name: value for name, value in info.items() if value is not None}

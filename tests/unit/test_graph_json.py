"""The Graph adapter reads JSON bodies into the app's own types: one mapping per type, and no SDK model on the way."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from lifecycle.adapters.graph.wire import (
    GroupFacts,
    group_refusal,
    invitation_body,
    json_group,
    json_invitation,
    json_page,
    json_user,
)
from lifecycle.errors import GraphError
from lifecycle.ports import InvitationRequest

GUEST_ID = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"


def test_user_with_every_selected_field():
    user = json_user({
        "id": GUEST_ID, "userType": "Guest", "displayName": "Ann", "mail": "Ann@Fabrikam.com",
        "otherMails": ["ANN.private@gmail.com"], "userPrincipalName": "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "externalUserState": "Accepted", "accountEnabled": False, "createdDateTime": "2026-11-01T08:00:00Z"})
    assert (user.id, user.user_type, user.display_name) == (GUEST_ID, "Guest", "Ann")
    assert user.mail == "ann@fabrikam.com" and user.other_mails == ("ann.private@gmail.com",)
    assert user.external_user_state == "Accepted" and user.account_enabled is False
    assert user.created_at == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert user.sign_in is None and user.sponsors is None


def test_user_with_nulls_and_missing_fields_reads_as_empty():
    user = json_user({"id": GUEST_ID, "mail": None, "otherMails": None, "userType": None})
    assert (user.user_type, user.mail, user.other_mails, user.user_principal_name) == ("", "", (), "")
    assert user.account_enabled is None and user.created_at is None and user.external_user_state is None


def test_user_sign_in_selected_but_null_is_known_never_signed_in():
    user = json_user({"id": GUEST_ID, "signInActivity": None, "sponsors": [{"id": "s1"}, {"id": "s2"}]})
    assert user.sign_in is not None and user.sign_in.last_successful is None
    assert user.sponsors == ("s1", "s2")


def test_user_sign_in_date_without_zone_is_utc():
    user = json_user({"id": GUEST_ID, "signInActivity": {"lastSuccessfulSignInDateTime": "2026-11-20T10:00:00"}})
    assert user.sign_in is not None
    assert user.sign_in.last_successful == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_invitation_answer():
    invitation = json_invitation({"id": "i1", "inviteRedeemUrl": "https://login.example/redeem?x=1",
                                   "status": "Completed", "invitedUser": {"id": GUEST_ID}})
    assert (invitation.user_id, invitation.redeem_url, invitation.completed) == (
        GUEST_ID, "https://login.example/redeem?x=1", True)


def test_invitation_without_status_is_pending():
    assert json_invitation({"invitedUser": {"id": GUEST_ID}}).status == "PendingAcceptance"


@pytest.mark.parametrize("body", [{}, {"invitedUser": None}, {"invitedUser": {"id": ""}}])
def test_invitation_without_invited_user_is_a_graph_error(body):
    with pytest.raises(GraphError, match="no invited user"):
        json_invitation(body)


def test_page_items_and_next_link():
    assert json_page({"value": [{"id": "a"}], "@odata.nextLink": "https://g/next"}) == ([{"id": "a"}], "https://g/next")
    assert json_page({}) == ([], None)


@pytest.mark.parametrize(("group", "refused"), [
    ({"id": "g", "groupTypes": ["Unified"]}, ""),
    ({"id": "g", "groupTypes": ["Unified", "DynamicMembership"]}, "dynamic"),
    ({"id": "g", "groupTypes": None, "onPremisesSyncEnabled": True}, "on-premises"),
    ({"id": "g", "isAssignableToRole": True}, "role-assignable"),
    ({"id": "g", "onPremisesSyncEnabled": None, "isAssignableToRole": False}, ""),
    # groups-overview.md, "Managed via Microsoft Graph": mail-enabled security and distribution groups are read-only
    ({"id": "g", "groupTypes": [], "mailEnabled": True, "securityEnabled": True}, "mail-enabled"),
    ({"id": "g", "groupTypes": [], "mailEnabled": True, "securityEnabled": False}, "distribution"),
    ({"id": "g", "groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False}, ""),
])
def test_group_refusal_read_from_json(group, refused):
    reason = group_refusal(json_group(group))
    assert (refused in reason) if refused else reason == ""


def test_group_facts_default_take_members():
    assert group_refusal(GroupFacts()) == ""


def test_invitation_body_leaves_nulls_out():
    body = invitation_body(InvitationRequest(email="ann@fabrikam.com", redirect_url="https://myapps.microsoft.com"))
    assert body == {"invitedUserEmailAddress": "ann@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com",
                    "sendInvitationMessage": False, "invitedUserType": "Guest"}


def test_invitation_body_with_message_and_sponsors():
    request = InvitationRequest(email="ann@fabrikam.com", redirect_url="https://r.example", display_name="Ann",
                                send_message=True, message="Hi", cc_recipients=("boss@contoso.com",),
                                sponsors=("s1",))
    body = invitation_body(request)
    assert body["invitedUserSponsors"] == [{"id": "s1"}] and body["invitedUserDisplayName"] == "Ann"
    assert body["invitedUserMessageInfo"] == {"customizedMessageBody": "Hi",
                                              "ccRecipients": [{"emailAddress": {"address": "boss@contoso.com"}}]}


def test_the_adapter_and_the_app_never_import_the_sdk_user_model():
    probe = ("import sys, function_app, lifecycle.adapters.graph.directory, lifecycle.wiring; "
             "print(sorted(m for m in sys.modules if m.startswith('msgraph.generated.models.')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "msgraph.generated.models.user'" not in loaded
    assert "msgraph.generated.models.invitation'" not in loaded

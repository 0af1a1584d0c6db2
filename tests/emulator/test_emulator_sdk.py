"""The official msgraph-sdk talks to the emulator (custom base URL, static bearer token) and sees Graph's shapes."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.invitation import Invitation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

pytestmark = pytest.mark.asyncio


async def test_invitation_through_the_sdk(sdk, control):
    invitation = await sdk.invitations.post(Invitation(
        invited_user_email_address="sdk.guest@fabrikam.com", invite_redirect_url="https://myapps.microsoft.com",
        invited_user_display_name="SDK Guest", send_invitation_message=False))

    assert invitation.status == "PendingAcceptance"
    assert invitation.invite_redeem_url.startswith("https://login.microsoftonline.com/")
    assert control.user(invitation.invited_user.id)["displayName"] == "SDK Guest"


async def test_get_user_with_select_and_patch_through_the_sdk(sdk, control):
    seeded = control.seed_user(mail="ann@fabrikam.com", userType="Guest", companyName="Fabrikam")
    select = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "userType", "externalUserState", "accountEnabled", "companyName"])

    await sdk.users.by_user_id(seeded["id"]).patch(User(account_enabled=False))
    user = await sdk.users.by_user_id(seeded["id"]).get(RequestConfiguration(query_parameters=select))
    plain = await sdk.users.by_user_id(seeded["id"]).get()

    assert (user.id, user.user_type, user.external_user_state) == (seeded["id"], "Guest", "PendingAcceptance")
    assert user.account_enabled is False and user.company_name == "Fabrikam"
    assert plain.mail == "ann@fabrikam.com" and plain.user_type is None and plain.account_enabled is None


async def test_filter_with_escaped_quote_through_the_sdk(sdk, control):
    seeded = control.seed_user(mail="o'brien@fabrikam.com", userType="Guest")
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter="mail eq 'o''brien@fabrikam.com' or otherMails/any(m:m eq 'o''brien@fabrikam.com')",
        select=["id", "mail"])

    found = await sdk.users.get(RequestConfiguration(query_parameters=query))

    assert [user.id for user in found.value] == [seeded["id"]]


async def test_member_add_twice_raises_odata_error(sdk, control, emu):
    group = control.seed_group(displayName="Partners")
    user = control.seed_user(mail="ann@fabrikam.com", userType="Guest")
    reference = ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}")

    await sdk.groups.by_group_id(group["id"]).members.ref.post(reference)
    with pytest.raises(ODataError) as raised:
        await sdk.groups.by_group_id(group["id"]).members.ref.post(reference)

    assert raised.value.response_status_code == 400
    assert raised.value.error.code == "Request_BadRequest"
    assert "already exist" in raised.value.error.message
    assert control.group_members(group["id"]) == [user["id"]]


async def test_unknown_user_raises_not_found(sdk):
    with pytest.raises(ODataError) as raised:
        await sdk.users.by_user_id("2f3e4d5c-6b7a-4899-aabb-ccddeeff0011").get()

    assert raised.value.response_status_code == 404
    assert raised.value.error.code == "Request_ResourceNotFound"

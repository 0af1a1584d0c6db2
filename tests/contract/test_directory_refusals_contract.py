# ruff: noqa: F811 - the fixtures of the directory contract, imported by name, are the tests' parameters
"""Directory contract, Graph's final refusals and bulk reads: InMemoryDirectory and GraphDirectory (msgraph-sdk over
real HTTP to the strict emulator) refuse the same things the same way. Each case names the Graph rule it rests on."""
from __future__ import annotations

import pytest

from lifecycle.errors import GraphConflict, GraphPolicyRefusal, GraphRejectedInput
from lifecycle.ports import InvitationRequest
from tests.contract.test_directory_contract import (  # noqa: F401 - the fixtures of the directory contract
    UNKNOWN,
    EmulatedWorld,
    FakeWorld,
    directory,
    directory_kind,
    emulated,
    fake,
    world,
)

MAIL_ENABLED = "the group is a mail-enabled security group or a distribution list, which Graph cannot change"


def read_only_group(world, *, security: bool) -> str:
    """A mail-enabled security group (`security`) or a distribution list: read-only in Graph (groups-overview.md)."""
    if isinstance(world, FakeWorld):
        group_id = world.group()
        world.directory.read_only_groups[group_id] = MAIL_ENABLED
        return group_id
    return world.control.seed_group(displayName="Mail-enabled", mailEnabled=True, securityEnabled=security,
                                    groupTypes=[], mail="list@contoso.example")["id"]


def refuse_invitations_to(world, domain: str) -> None:
    """The tenant's external collaboration settings refuse the domain (Entra ID > External Identities)."""
    if isinstance(world, FakeWorld):
        world.directory.refused_domains.add(domain)
    else:
        world.control.configure(blockedInvitationDomains=[domain])


def take_the_name_of(world, deleted_id: str) -> None:
    """Another user is created with the userPrincipalName of a soft-deleted user."""
    if isinstance(world, FakeWorld):
        user = world.directory.deleted[deleted_id]
        name = user.setdefault("userPrincipalName", f"{deleted_id}#EXT#@contoso.example")
        world.directory.users[world.user("newcomer@contoso.example", user_type="Member")]["userPrincipalName"] = name
        return
    name = world.control.user(deleted_id)["userPrincipalName"]
    world.control.seed_user(mail="newcomer@contoso.example", userType="Member", userPrincipalName=name)


@pytest.mark.parametrize("security", [True, False], ids=["mail-enabled security", "distribution"])
async def test_a_member_add_on_a_mail_enabled_group_is_refused_for_good(world, directory, security):
    # group-post-members.md: "This API supports only security and Microsoft 365 groups"; groups-overview.md
    guest, group_id = world.user("g@partner.example"), read_only_group(world, security=security)
    with pytest.raises(GraphRejectedInput) as refused:
        await directory.add_member(group_id, guest)
    assert "mail-enabled" in refused.value.reason and world.members(group_id) == set()


async def test_group_problem_names_a_missing_or_read_only_group_and_nothing_for_a_usable_one(world, directory):
    usable, read_only = world.group(), read_only_group(world, security=True)
    assert await directory.group_problem(usable) == ""
    assert "mail-enabled" in await directory.group_problem(read_only)
    assert await directory.group_problem(UNKNOWN) == "the group does not exist"


async def test_get_users_reads_each_user_and_none_for_an_unknown_id(world, directory):
    ids = [world.user(f"bulk{n}@partner.example") for n in range(25)]  # more than one $batch holds
    users = await directory.get_users([*ids, UNKNOWN])
    assert users[UNKNOWN] is None
    assert [users[user_id].id for user_id in ids] == ids and all(users[i].is_guest for i in ids)


async def test_an_invitation_the_tenant_settings_refuse_is_a_policy_refusal(world, directory):
    # invitation-post.md is silent on the code; the emulator answers 403 (tests/emulator)
    refuse_invitations_to(world, "blocked.example")
    with pytest.raises(GraphPolicyRefusal) as refused:
        await directory.invite(InvitationRequest(email="x@blocked.example", redirect_url="https://myapps.microsoft.com"))
    assert refused.value.status == 403 and refused.value.graph_status == 403
    assert await directory.find_user_by_email("x@blocked.example") is None


async def test_a_restore_over_a_taken_user_principal_name_is_a_conflict_and_restores_nothing(world, directory):
    # directory-deleteditems-restore: 400 "Another object with the same value for property userPrincipalName
    # already exists." - a state the caller must resolve first
    guest = world.user("g@partner.example")
    await directory.delete_user(guest)
    take_the_name_of(world, guest)
    with pytest.raises(GraphConflict) as refused:
        await directory.restore_user(guest)
    assert refused.value.status == 409 and "userPrincipalName" in (refused.value.graph_message or "")
    assert await directory.get_user(guest) is None and await directory.get_deleted_user(guest) is not None


async def test_absent_sponsors_are_the_disabled_and_the_deleted_never_a_group_or_an_enabled_user(world, directory):
    standing = world.user("boss@contoso.example", user_type="Member")
    blocked = world.user("gone.soon@contoso.example", user_type="Member", enabled=False)
    deleted = world.user("left@contoso.example", user_type="Member")
    await directory.delete_user(deleted)
    group = world.group()
    absent = await directory.absent_sponsors([standing, blocked, deleted, group, UNKNOWN])
    assert absent == {blocked, deleted, UNKNOWN}


def signed_in(world, user_id: str, at: str) -> None:
    """The user signed in successfully at `at` (ISO 8601, UTC)."""
    if isinstance(world, FakeWorld):
        from datetime import datetime

        from lifecycle.domain.planning import SignIn
        world.directory.users[user_id]["signInActivity"] = SignIn(last_successful=datetime.fromisoformat(at))
    else:
        world.control.update_user(user_id, signInActivity={"lastSuccessfulSignInDateTime": at})


async def test_last_sign_ins_are_read_in_bulk_and_never_is_none(world, directory):
    # user-list.md: signInActivity is left out for a user who never signed in
    active, never = world.user("a@partner.example"), world.user("n@partner.example")
    signed_in(world, active, "2026-11-30T08:00:00+00:00")
    last = await directory.last_sign_ins([active, never, UNKNOWN])
    assert last is not None and last[active] is not None and last[active].isoformat() == "2026-11-30T08:00:00+00:00"
    assert last[never] is None and last[UNKNOWN] is None


async def test_last_sign_ins_on_a_tenant_without_entra_id_p1_are_unknown(world, directory):
    user_id = world.user("g@partner.example")
    world.unlicensed()
    assert await directory.last_sign_ins([user_id]) is None

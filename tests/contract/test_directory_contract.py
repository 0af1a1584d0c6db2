"""Directory contract: InMemoryDirectory and GraphDirectory (msgraph-sdk over real HTTP to the Graph emulator) read
the directory and write group memberships the same way. Each world seeds the same users and groups: the fake
through its own fields, the emulator through its control API (as an administrator would, behind the app's back)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Protocol

import pytest

from graph_emulator import EmulatorControl
from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.adapters.memory import InMemoryDirectory
from lifecycle.config import Settings
from lifecycle.domain.planning import SignIn
from lifecycle.domain.policy import external_address
from lifecycle.errors import GraphBadRequest, GraphNotFound, GraphRejectedInput
from lifecycle.ports import ChangeOutcome, Directory, DirectoryUser, UserChanges
from tests.support import app_environment

UNKNOWN = "00000000-0000-4000-8000-00000000dead"


class World(Protocol):
    """The directory a test starts from."""

    def user(self, email: str, *, user_type: str = "Guest", state: str | None = "PendingAcceptance",
             other_mails: tuple[str, ...] = (), sponsors: tuple[str, ...] = (), enabled: bool = True) -> str: ...
    def guests(self, count: int) -> list[str]: ...
    def group(self, *members: str) -> str: ...
    def members(self, group_id: str) -> set[str]: ...
    def unlicensed(self) -> None:
        """The tenant has no Entra ID P1: signInActivity cannot be read."""
    def enabled(self, user_id: str) -> bool: ...
    def revocations(self, user_id: str) -> int:
        """Sign-in revocations of the user that took effect (throttled attempts not counted)."""
    def disables(self, user_id: str) -> int:
        """Account disables of the user that reached the directory and succeeded."""
    def throttle_the_next_revoke(self) -> None:
        """The next revocation is answered 429 (Retry-After 1) once, without doing anything."""
    def throttled(self) -> int:
        """Requests answered 429 so far."""
    def throttle_one_add(self) -> None:
        """One of the next member adds is answered 429 (Retry-After 1) once, without doing anything."""
    def add_attempts(self) -> int:
        """Member adds that reached the directory, throttled ones counted."""
    def attribute(self, user_id: str, name: str) -> Any: ...
    def delete(self, user_id: str) -> None:
        """The user is deleted behind the app's back."""


class FakeWorld:
    def __init__(self, directory: InMemoryDirectory) -> None:
        self.directory = directory

    def user(self, email: str, *, user_type: str = "Guest", state: str | None = "PendingAcceptance",
             other_mails: tuple[str, ...] = (), sponsors: tuple[str, ...] = (), enabled: bool = True) -> str:
        user_id = self.directory.add_user(email, user_type, state if user_type == "Guest" else None)
        local, _, domain = email.lower().rpartition("@")  # the names Graph gives, as the emulator's seed does
        name = f"{local}_{domain}#EXT#@tenant.example" if user_type == "Guest" else email.lower()
        self.directory.users[user_id].update(displayName=f"Name of {email}", otherMails=list(other_mails),
                                             sponsors=list(sponsors), accountEnabled=enabled,
                                             userPrincipalName=name, proxyAddresses=[f"SMTP:{email.lower()}"])
        return user_id

    def guests(self, count: int) -> list[str]:
        return [self.user(f"bulk{n}@partner.example") for n in range(count)]

    def group(self, *members: str) -> str:
        group_id = str(uuid.uuid4())
        self.directory.add_group(group_id)
        self.directory.groups[group_id].update(members)
        return group_id

    def members(self, group_id: str) -> set[str]:
        return set(self.directory.groups[group_id])

    def unlicensed(self) -> None:
        self.directory.premium = False

    def enabled(self, user_id: str) -> bool:
        return self.directory.users[user_id]["accountEnabled"]

    def revocations(self, user_id: str) -> int:
        return self.directory.writes.count(("revoke", user_id))

    def disables(self, user_id: str) -> int:
        return self.directory.writes.count(("update", user_id))

    def throttle_the_next_revoke(self) -> None:
        self.directory.throttled.append("revoke")

    def throttled(self) -> int:
        return sum(1 for kind, _ in self.directory.writes if kind == "throttled")

    def throttle_one_add(self) -> None:
        self.directory.throttled.append("add")

    def add_attempts(self) -> int:
        return sum(1 for kind, what in self.directory.writes if kind == "add" or what.startswith("add/"))

    def attribute(self, user_id: str, name: str) -> Any:
        return self.directory.users[user_id].get(name)

    def delete(self, user_id: str) -> None:
        self.directory.deleted[user_id] = self.directory.users.pop(user_id)


class EmulatedWorld:
    def __init__(self, control: EmulatorControl) -> None:
        self.control = control

    def user(self, email: str, *, user_type: str = "Guest", state: str | None = "PendingAcceptance",
             other_mails: tuple[str, ...] = (), sponsors: tuple[str, ...] = (), enabled: bool = True) -> str:
        body: dict[str, Any] = {"mail": email, "userType": user_type, "displayName": f"Name of {email}",
                                "otherMails": list(other_mails), "sponsors": list(sponsors),
                                "accountEnabled": enabled}
        if user_type == "Guest":
            body["externalUserState"] = state
        return self.control.seed_user(**body)["id"]

    def guests(self, count: int) -> list[str]:
        return self.control.seed_users(count=count, userType="Guest", mail="bulk{n}@partner.example")

    def group(self, *members: str) -> str:
        group_id = self.control.seed_group(displayName="Partners")["id"]
        if members:
            self.control.add_members(group_id, list(members))
        return group_id

    def members(self, group_id: str) -> set[str]:
        return set(self.control.group_members(group_id))

    def unlicensed(self) -> None:
        self.control.configure(signInActivity="unlicensed")

    def enabled(self, user_id: str) -> bool:
        return self.control.user(user_id)["accountEnabled"]

    def revocations(self, user_id: str) -> int:
        return sum(1 for entry in self.control.calls()["log"] if entry["status"] == 200
                   and entry["path"].endswith(f"/users/{user_id}/revokeSignInSessions"))

    def disables(self, user_id: str) -> int:
        return sum(1 for entry in self.control.calls()["log"] if entry["status"] == 204
                   and entry["method"] == "PATCH" and entry["path"].endswith(f"/users/{user_id}"))

    def throttle_the_next_revoke(self) -> None:
        # Seed 30 at a fault rate of 0.5 draws: no fault, fault, no fault, no fault. A block is a disable then a
        # revoke, so the first revoke is answered 429 and the retried batch goes through.
        self.control.configure(faultRate=0.5, faultStatuses=[429], faultRetryAfter=1, faultPhase="before", seed=30)

    def throttled(self) -> int:
        return sum(1 for entry in self.control.calls()["log"] if entry["status"] == 429)

    def throttle_one_add(self) -> None:
        # Seed 30 at a fault rate of 0.5: the second request drawn is answered 429, the next ones are not (the
        # $batch envelope draws no fault, its items do).
        self.control.configure(faultRate=0.5, faultStatuses=[429], faultRetryAfter=1, faultPhase="before", seed=30)

    def add_attempts(self) -> int:
        return self.control.count("POST /groups/{id}/members/$ref")

    def attribute(self, user_id: str, name: str) -> Any:
        return self.control.user(user_id)[name]

    def delete(self, user_id: str) -> None:
        self.control.remove_user(user_id)


@pytest.fixture(params=["memory", "graph"])
def directory_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def emulated(request: pytest.FixtureRequest, directory_kind: str) -> Iterator[EmulatorControl | None]:
    if directory_kind == "memory":
        yield None
        return
    control = request.getfixturevalue("emulator_server").control
    control.reset()
    yield control
    control.reset()


@pytest.fixture
def fake() -> InMemoryDirectory:
    return InMemoryDirectory()


@pytest.fixture
def world(emulated: EmulatorControl | None, fake: InMemoryDirectory) -> World:
    return FakeWorld(fake) if emulated is None else EmulatedWorld(emulated)


@pytest.fixture
async def directory(emulated: EmulatorControl | None, fake: InMemoryDirectory,
                    request: pytest.FixtureRequest) -> AsyncIterator[Directory]:
    if emulated is None:
        yield fake
        return
    server = request.getfixturevalue("emulator_server")
    graph = GraphDirectory(Settings.from_env(app_environment("UseDevelopmentStorage=true", server.graph_url)))
    yield graph
    await graph.close()


# --- finding and reading users ---------------------------------------------------------------------
async def test_a_user_is_found_by_mail_whatever_its_case(world, directory):
    user_id = world.user("Ann.OBrien@Partner.example")
    for email in ("ann.obrien@partner.example", "ANN.OBRIEN@PARTNER.EXAMPLE"):
        found = await directory.find_user_by_email(email)
        assert found is not None and found.id == user_id and found.is_guest, email


async def test_a_user_is_found_by_one_of_its_other_mails(world, directory):
    user_id = world.user("primary@partner.example", other_mails=("primary@partner.example", "old@partner.example"))
    found = await directory.find_user_by_email("old@partner.example")
    assert found is not None and found.id == user_id


async def test_an_email_with_a_quote_is_found_and_an_unknown_email_is_none(world, directory):
    user_id = world.user("o'brien@partner.example")
    assert (await directory.find_user_by_email("o'brien@partner.example")).id == user_id
    assert await directory.find_user_by_email("nobody@partner.example") is None
    assert await directory.find_user_by_email("o'brien@partner.exampl") is None


async def test_a_member_is_found_and_is_not_a_guest(world, directory):
    member_id = world.user("staff@contoso.example", user_type="Member")
    found = await directory.find_user_by_email("staff@contoso.example")
    assert found.id == member_id and not found.is_guest and found.user_type == "Member"


async def test_a_member_who_owns_an_address_wins_it_over_a_guest_that_lists_it_in_other_mails(world, directory):
    member = world.user("ann@contoso.example", user_type="Member")
    world.user("ann@partner.example", other_mails=("ann@partner.example", "ann@contoso.example"))
    found = await directory.find_user_by_email("ann@contoso.example")
    assert found is not None and found.id == member and not found.is_guest


async def test_a_guest_wins_an_address_a_member_only_lists_in_other_mails(world, directory):
    guest = world.user("bea@partner.example")
    world.user("staff@contoso.example", user_type="Member", other_mails=("bea@partner.example",))
    found = await directory.find_user_by_email("bea@partner.example")
    assert found is not None and found.id == guest and found.is_guest


async def test_a_found_user_carries_the_addresses_that_decide_who_owns_one(world, directory):
    member = world.user("cy@contoso.example", user_type="Member")
    found = await directory.find_user_by_email("cy@contoso.example")
    assert found.id == member and found.owns("cy@contoso.example") and found.user_principal_name
    assert [a.lower() for a in found.proxy_addresses] == ["cy@contoso.example"]  # SMTP:, without the prefix


async def test_get_user_and_the_guest_listing_carry_the_address_a_guests_upn_encodes(world, directory):
    guest = world.user("dee@partner.example")
    user = await directory.get_user(guest)
    assert external_address(user.user_principal_name) == "dee@partner.example"
    (listed,) = (await directory.list_guests(sign_in_activity=False)).users
    assert "dee@partner.example" in listed.own_addresses and external_address(listed.user_principal_name)


async def test_get_user_reads_what_the_app_selects(world, directory):
    user_id = world.user("g@partner.example", state="Accepted", enabled=False)
    user = await directory.get_user(user_id)
    assert (user.id, user.user_type, user.mail, user.display_name) == (
        user_id, "Guest", "g@partner.example", "Name of g@partner.example")
    assert user.external_user_state == "Accepted" and user.account_enabled is False and user.is_guest


async def test_get_user_of_an_unknown_id_is_none(directory):
    assert await directory.get_user(UNKNOWN) is None


# --- blocking sign-in ------------------------------------------------------------------------------
async def test_blocking_sign_in_disables_the_account_and_revokes_its_sessions(world, directory):
    guest, other = world.user("g@partner.example"), world.user("h@partner.example")
    await directory.block_sign_in(guest)
    assert not world.enabled(guest) and world.revocations(guest) == 1
    assert (await directory.get_user(guest)).account_enabled is False
    assert world.enabled(other) and world.revocations(other) == 0


async def test_blocking_sign_in_again_keeps_the_account_blocked(world, directory):
    guest = world.user("g@partner.example")
    await directory.block_sign_in(guest)
    await directory.block_sign_in(guest)
    assert not world.enabled(guest) and world.revocations(guest) == 2


async def test_blocking_sign_in_of_an_unknown_user_is_not_found(world, directory):
    with pytest.raises(GraphNotFound):
        await directory.block_sign_in(UNKNOWN)
    assert world.revocations(UNKNOWN) == 0


async def test_a_throttled_revoke_is_retried_and_the_block_completes(world, directory):
    guest = world.user("g@partner.example")
    world.throttle_the_next_revoke()
    await directory.block_sign_in(guest)
    assert world.throttled() == 1
    assert not world.enabled(guest) and world.revocations(guest) == 1


async def test_a_throttled_revoke_is_sent_again_alone_and_the_done_disable_is_not(world, directory):
    guest = world.user("g@partner.example")
    world.throttle_the_next_revoke()
    await directory.block_sign_in(guest)
    assert world.disables(guest) == 1 and world.revocations(guest) == 1


# --- the directory pass ----------------------------------------------------------------------------
async def test_the_guest_listing_holds_every_guest_and_no_member_in_pages_of_999(world, directory):
    guests = world.guests(1000)
    world.user("staff@contoso.example", user_type="Member")
    listing = await directory.list_guests(sign_in_activity=False)
    assert sorted(u.id for u in listing.users) == sorted(guests) and all(u.is_guest for u in listing.users)
    assert listing.requests == 2 and not listing.sign_ins_read
    assert all(u.sign_in is None and u.sponsors is None for u in listing.users)


async def test_the_guest_listing_carries_sponsors_when_asked(world, directory):
    boss = world.user("boss@contoso.example", user_type="Member")
    sponsored = world.user("s@partner.example", sponsors=(boss,))
    alone = world.user("a@partner.example")
    listing = await directory.list_guests(sign_in_activity=False, sponsors=True)
    assert {u.id: u.sponsors for u in listing.users} == {sponsored: (boss,), alone: ()}


async def test_the_guest_listing_reads_sign_ins_on_a_licensed_tenant(world, directory):
    user_id = world.user("g@partner.example")
    listing = await directory.list_guests(sign_in_activity=True)
    assert listing.sign_ins_read and [u.id for u in listing.users] == [user_id]
    assert isinstance(listing.users[0].sign_in, SignIn)


async def test_the_guest_listing_says_why_sign_ins_were_not_read_on_an_unlicensed_tenant(world, directory):
    user_id = world.user("g@partner.example")
    world.unlicensed()
    listing = await directory.list_guests(sign_in_activity=True)
    assert not listing.sign_ins_read and "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in listing.sign_in_note
    assert [u.id for u in listing.users] == [user_id] and listing.users[0].sign_in is None
    assert listing.requests == 2  # the refused pass, then the pass without signInActivity


# --- the directory pass in ranges (scan_guests) ------------------------------------------------------
# Every first character a guest's userPrincipalName may have (user.md allows A-Z a-z 0-9 ' . - _ ! # ^ ~), and two an
# email address may begin with that need escaping in a URL (+ and &).
UNUSUAL = ("#hash", "~tilde", "'quote", "!bang", "^caret", "_under", "-dash", ".dot", "7seven", "Zed", "+plus", "&amp")


class Pages:
    """What `scan_guests` handed on: every page, in order."""

    def __init__(self) -> None:
        self.pages: list[list[DirectoryUser]] = []

    def __call__(self, page: Sequence[DirectoryUser]) -> None:
        self.pages.append(list(page))

    @property
    def ids(self) -> list[str]:
        return [user.id for page in self.pages for user in page]


async def test_a_scan_hands_every_guest_once_in_ranges_with_pages_no_larger_than_graph_serves(world, directory):
    guests = world.guests(1700) + [world.user(f"{name}@partner.example") for name in UNUSUAL]
    world.user("staff@contoso.example", user_type="Member")
    pages = Pages()
    scan = await directory.scan_guests(pages, sign_in_activity=False, sponsors=True)
    assert sorted(pages.ids) == sorted(guests) and len(pages.ids) == len(set(pages.ids)) == scan.guests
    assert scan.ranges > 1 and all(0 < len(page) <= 100 for page in pages.pages)  # 100 a page with $expand
    assert all(user.sponsors == () and user.is_guest for page in pages.pages for user in page)
    assert scan.requests >= len(pages.pages) and not scan.sign_ins_read


async def test_a_small_directory_is_one_range_read_in_as_few_requests_as_before(world, directory):
    guests = [world.user(f"{name}@partner.example") for name in UNUSUAL]
    pages = Pages()
    scan = await directory.scan_guests(pages, sign_in_activity=False)
    assert sorted(pages.ids) == sorted(guests)
    assert (scan.ranges, scan.requests, scan.guests, len(pages.pages)) == (1, 1, len(UNUSUAL), 1)


async def test_a_scan_reads_sign_ins_in_every_range_on_a_licensed_tenant(world, directory):
    guests = world.guests(1700) + [world.user("#x@partner.example")]
    pages = Pages()
    scan = await directory.scan_guests(pages, sign_in_activity=True, sponsors=True)
    assert scan.sign_ins_read and scan.sign_in_note == "" and scan.ranges > 1
    assert sorted(pages.ids) == sorted(guests)
    assert all(isinstance(user.sign_in, SignIn) for page in pages.pages for user in page)


async def test_an_unlicensed_tenant_is_settled_before_any_page_and_the_scan_goes_on_without_sign_ins(world,
                                                                                                  directory):
    guests = world.guests(1700) + [world.user("~x@partner.example")]
    world.unlicensed()
    pages = Pages()
    scan = await directory.scan_guests(pages, sign_in_activity=True, sponsors=True)
    assert not scan.sign_ins_read and "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in scan.sign_in_note
    assert sorted(pages.ids) == sorted(guests)
    assert all(user.sign_in is None for page in pages.pages for user in page)  # not a page with sign-ins first


async def test_guests_created_or_deleted_during_a_scan_break_nothing(world, directory):
    guests = world.guests(1700)
    doomed = world.user("#doomed@partner.example")
    created: list[str] = []
    pages = Pages()

    def meddle(page: Sequence[DirectoryUser]) -> None:
        pages(page)
        if len(pages.pages) == 1:  # after the first page: one guest deleted, two created, in two ranges
            world.delete(doomed)
            created.extend(world.user(f"{name}@partner.example") for name in ("aaa-late", "zzz-late"))

    await directory.scan_guests(meddle, sign_in_activity=False, sponsors=True)
    assert len(pages.ids) == len(set(pages.ids))  # none twice
    assert set(guests) <= set(pages.ids) <= set(guests) | set(created) | {doomed}  # none missed, none foreign


async def test_transitive_members_are_the_users_of_nested_groups(world, directory):
    direct, nested, deeper, outside = (world.user(f"{n}@partner.example") for n in ("d", "n", "x", "o"))
    inner = world.group(deeper)
    middle = world.group(nested, inner)
    top = world.group(direct, middle)
    world.group(outside)
    assert await directory.transitive_member_ids(top) == {direct, nested, deeper}
    assert await directory.transitive_member_ids(inner) == {deeper}
    assert await directory.transitive_member_ids(world.group()) == set()


async def test_transitive_members_of_an_unknown_group_is_not_found(directory):
    with pytest.raises(GraphNotFound):
        await directory.transitive_member_ids(UNKNOWN)


async def test_sponsor_ids_of_a_user_and_of_an_unknown_user(world, directory):
    first, second = world.user("b1@contoso.example", user_type="Member"), world.user("b2@contoso.example",
                                                                                        user_type="Member")
    guest = world.user("g@partner.example", sponsors=(first, second))
    assert sorted(await directory.sponsor_ids(guest)) == sorted([first, second])
    assert await directory.sponsor_ids(world.user("lonely@partner.example")) == ()
    with pytest.raises(GraphNotFound):
        await directory.sponsor_ids(UNKNOWN)


# --- group membership writes -----------------------------------------------------------------------
async def test_adding_a_member_twice_is_one_membership(world, directory):
    user_id, group_id = world.user("g@partner.example"), world.group()
    await directory.add_member(group_id, user_id)
    await directory.add_member(group_id, user_id)
    assert world.members(group_id) == {user_id}


async def test_removing_a_member_twice_and_a_non_member_is_success(world, directory):
    user_id, other = world.user("g@partner.example"), world.user("h@partner.example")
    group_id = world.group(user_id)
    await directory.remove_member(group_id, user_id)
    await directory.remove_member(group_id, user_id)
    await directory.remove_member(group_id, other)
    assert world.members(group_id) == set()


async def test_adding_to_a_group_that_does_not_exist_is_refused_for_good(world, directory):
    with pytest.raises(GraphRejectedInput):
        await directory.add_member(UNKNOWN, world.user("g@partner.example"))


async def test_removing_from_a_group_that_does_not_exist_is_not_found(world, directory):
    with pytest.raises(GraphNotFound):
        await directory.remove_member(UNKNOWN, world.user("g@partner.example"))


async def test_group_exists(world, directory):
    assert await directory.group_exists(world.group()) and not await directory.group_exists(UNKNOWN)


# --- a user's writes in one go --------------------------------------------------------------------
def _ended(outcomes: list[ChangeOutcome]) -> list[tuple[str, str, type | None]]:
    return [(o.change.kind, o.change.target, type(o.error) if o.error else None) for o in outcomes]


async def test_a_users_adds_removals_and_attributes_all_done_in_order(world, directory):
    user_id = world.user("g@partner.example")
    joined, left = [world.group() for _ in range(3)], [world.group(user_id) for _ in range(2)]
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(joined), tuple(left),
                                                         {"companyName": "Fabrikam", "department": "Sales"}))
    assert _ended(outcomes) == [("add", g, None) for g in joined] + [("remove", g, None) for g in left] + [
        ("attributes", user_id, None)]
    assert all(o.done for o in outcomes)
    assert all(world.members(g) == {user_id} for g in joined) and all(world.members(g) == set() for g in left)
    assert (world.attribute(user_id, "companyName"), world.attribute(user_id, "department")) == ("Fabrikam", "Sales")


async def test_a_missing_group_fails_its_add_alone(world, directory):
    user_id = world.user("g@partner.example")
    first, second = world.group(), world.group()
    outcomes = await directory.apply_changes(UserChanges(user_id, (first, UNKNOWN, second)))
    assert _ended(outcomes) == [("add", first, None), ("add", UNKNOWN, GraphRejectedInput), ("add", second, None)]
    assert outcomes[1].error.reason == "the group no longer exists"
    assert world.members(first) == world.members(second) == {user_id}


async def test_an_existing_membership_added_and_a_missing_one_removed_are_done(world, directory):
    user_id = world.user("g@partner.example")
    member_of, not_in = world.group(user_id), world.group()
    outcomes = await directory.apply_changes(UserChanges(user_id, (member_of,), (not_in,)))
    assert _ended(outcomes) == [("add", member_of, None), ("remove", not_in, None)]
    assert world.members(member_of) == {user_id} and world.members(not_in) == set()


async def test_a_removal_from_a_missing_group_is_not_found_and_the_others_are_done(world, directory):
    user_id = world.user("g@partner.example")
    group_id = world.group(user_id)
    outcomes = await directory.apply_changes(UserChanges(user_id, remove=(UNKNOWN, group_id)))
    assert _ended(outcomes) == [("remove", UNKNOWN, GraphNotFound), ("remove", group_id, None)]
    assert world.members(group_id) == set()


async def test_a_refused_attribute_write_fails_alone(world, directory):
    user_id = world.user("g@partner.example")
    group_id = world.group()
    outcomes = await directory.apply_changes(UserChanges(user_id, (group_id,),
                                                         attributes={"createdDateTime": "2020-01-01T00:00:00Z"}))
    assert _ended(outcomes) == [("add", group_id, None), ("attributes", user_id, GraphBadRequest)]
    assert "read-only" in outcomes[1].error.message and world.members(group_id) == {user_id}


async def test_the_writes_of_a_user_graph_does_not_know_are_not_found(world, directory):
    group_id = world.group()
    outcomes = await directory.apply_changes(UserChanges(UNKNOWN, (group_id,), attributes={"companyName": "F"}))
    assert _ended(outcomes) == [("add", group_id, GraphNotFound), ("attributes", UNKNOWN, GraphNotFound)]
    assert world.members(group_id) == set()


async def test_a_single_write_ends_as_its_own_call(world, directory):
    user_id = world.user("g@partner.example")
    assert _ended(await directory.apply_changes(UserChanges(user_id, (UNKNOWN,)))) == [
        ("add", UNKNOWN, GraphRejectedInput)]
    assert _ended(await directory.apply_changes(UserChanges(user_id, attributes={"companyName": "F"}))) == [
        ("attributes", user_id, None)]
    assert world.attribute(user_id, "companyName") == "F"
    assert await directory.apply_changes(UserChanges(user_id)) == []


async def test_more_writes_than_a_batch_holds_are_all_done(world, directory):
    user_id = world.user("g@partner.example")
    groups = [world.group() for _ in range(23)]
    left = [world.group(user_id) for _ in range(2)]
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(groups), tuple(left), {"companyName": "F"}))
    assert _ended(outcomes) == [("add", g, None) for g in groups] + [("remove", g, None) for g in left] + [
        ("attributes", user_id, None)]
    assert all(world.members(g) == {user_id} for g in groups) and all(world.members(g) == set() for g in left)


async def test_a_throttled_add_is_tried_again_alone(world, directory):
    user_id = world.user("g@partner.example")
    groups = [world.group() for _ in range(3)]
    world.throttle_one_add()
    outcomes = await directory.apply_changes(UserChanges(user_id, tuple(groups)))
    assert all(o.done for o in outcomes) and all(world.members(g) == {user_id} for g in groups)
    assert world.throttled() == 1 and world.add_attempts() == 4  # the adds done are never sent again


# --- sponsors --------------------------------------------------------------------------------------
async def test_adding_a_sponsor_twice_is_one_sponsor(world, directory):
    boss, guest = world.user("boss@contoso.example", user_type="Member"), world.user("g@partner.example")
    await directory.add_sponsor(guest, boss)
    await directory.add_sponsor(guest, boss)
    assert await directory.sponsor_ids(guest) == (boss,)


async def test_adding_a_sponsor_that_does_not_exist_is_refused_for_good(world, directory):
    guest = world.user("g@partner.example")
    with pytest.raises(GraphRejectedInput):
        await directory.add_sponsor(guest, UNKNOWN)
    assert await directory.sponsor_ids(guest) == ()

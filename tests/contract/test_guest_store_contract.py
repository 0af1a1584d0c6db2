"""GuestStore contract: the in-memory store and the Table store (Azurite) answer every call the same way."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.tables import codec
from lifecycle.domain.model import DisabledReason, EmailClaim, Guest, GuestState, IndexKind, InvitationState
from lifecycle.errors import ConcurrencyConflict, InvalidRequest, UnreadableRecord
from lifecycle.ports import Event, GuestQuery, GuestStore, Page

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def guest_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def guest(n: int, **changes) -> Guest:
    base = Guest(id=guest_id(n), email=f"g{n}@fabrikam.com", expires_at=T0 + timedelta(days=n), invited_at=T0,
                 created_at=T0, updated_at=T0)
    return replace(base, **changes)


def event(n: int, guest_n: int = 1, at: datetime = T0) -> Event:
    return Event(type="guest.invited", guest_id=guest_id(guest_n), data={"email": f"g{guest_n}@fabrikam.com", "n": n},
                 id=f"evt-{n:04d}", time=at)


def claim(email: str, **changes) -> EmailClaim:
    return replace(EmailClaim(email=email, claimed_at=T0, owner="owner-1", request={"email": email}), **changes)


def sharing_a_partition(count: int) -> list[int]:
    """Numbers of `count` guests whose records the Table store keeps in one partition (so in one transaction)."""
    by_partition: dict[str, list[int]] = {}
    for n in range(1, 100_000):
        found = by_partition.setdefault(codec.guest_partition(guest_id(n)), [])
        found.append(n)
        if len(found) == count:
            return found
    raise AssertionError("no partition holds that many")


async def tracked(store: GuestStore, *guests: Guest) -> list[Guest]:
    return [await store.create(g, claim(g.email)) for g in guests]


# --- claims ----------------------------------------------------------------------------------------
async def test_a_claim_reads_back_as_written_with_an_etag(store):
    email = "o'brien/a#b?c%d@fabrikam.com"  # characters Table keys forbid, and a quote
    written = await store.claim_email(claim(email, request={"email": email, "groups": ["a"]}))
    read = await store.get_claim(email)
    assert written.etag and read == written
    assert read.email == email and not read.is_linked and read.request == {"email": email, "groups": ["a"]}


async def test_an_unknown_email_has_no_claim(store):
    assert await store.get_claim("nobody@fabrikam.com") is None


async def test_claiming_a_claimed_email_is_a_conflict_and_keeps_the_first_claim(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    with pytest.raises(ConcurrencyConflict):
        await store.claim_email(claim("a@fabrikam.com", owner="owner-2"))
    assert (await store.get_claim("a@fabrikam.com")) == first


async def test_taking_over_with_the_current_etag_replaces_the_claim(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    second = await store.take_over_claim(replace(first, owner="owner-2"))
    assert second.etag and second.etag != first.etag
    assert (await store.get_claim("a@fabrikam.com")).owner == "owner-2"


async def test_taking_over_with_a_stale_etag_is_a_conflict(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    await store.take_over_claim(replace(first, owner="owner-2"))
    with pytest.raises(ConcurrencyConflict):
        await store.take_over_claim(replace(first, owner="owner-3"))
    assert (await store.get_claim("a@fabrikam.com")).owner == "owner-2"


async def test_taking_over_a_vanished_claim_is_a_conflict(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    await store.release_claim(first)
    with pytest.raises(ConcurrencyConflict):
        await store.take_over_claim(replace(first, owner="owner-2"))
    assert await store.get_claim("a@fabrikam.com") is None


async def test_release_removes_the_claim_and_frees_the_email(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    await store.release_claim(first)
    assert await store.get_claim("a@fabrikam.com") is None
    assert (await store.claim_email(claim("a@fabrikam.com", owner="owner-2"))).owner == "owner-2"


async def test_releasing_with_a_stale_etag_is_a_conflict_and_keeps_the_newer_claim(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    second = await store.take_over_claim(replace(first, owner="owner-2"))
    with pytest.raises(ConcurrencyConflict):
        await store.release_claim(first)
    assert await store.get_claim("a@fabrikam.com") == second


async def test_releasing_a_missing_claim_is_success(store):
    first = await store.claim_email(claim("a@fabrikam.com"))
    await store.release_claim(first)
    await store.release_claim(first)
    assert await store.get_claim("a@fabrikam.com") is None


async def test_stale_claims_are_unlinked_claims_claimed_before_the_cut(store):
    # Azurite compares DateTime filters to the millisecond (Azure to 100 ns): the boundary is 1 ms wide here
    await store.claim_email(claim("old@fabrikam.com", claimed_at=T0 - timedelta(milliseconds=1)))
    await store.claim_email(claim("cut@fabrikam.com", claimed_at=T0))
    await store.claim_email(claim("new@fabrikam.com", claimed_at=T0 + timedelta(hours=1)))
    await store.create(guest(1, email="linked@fabrikam.com"),
                       claim("linked@fabrikam.com", claimed_at=T0 - timedelta(hours=1)))
    stale = await store.stale_claims(T0, limit=10)
    assert [c.email for c in stale] == ["old@fabrikam.com"] and stale[0].etag


async def test_stale_claims_stop_at_the_limit_in_email_order(store):
    for name in ("c", "a", "b"):
        await store.claim_email(claim(f"{name}@fabrikam.com", claimed_at=T0 - timedelta(hours=1)))
    assert [c.email for c in await store.stale_claims(T0, limit=2)] == ["a@fabrikam.com", "b@fabrikam.com"]


# --- create ----------------------------------------------------------------------------------------
def full_guest() -> Guest:
    return guest(1, display_name="Zoë O'Brien", state=GuestState.DISABLED, invitation_state=InvitationState.ACCEPTED,
                 groups=("g-1", "g-2"), pending_groups=("g-3",), removing_groups=("g-4",),
                 pending_attributes={"department": "Sales"}, attributes={"companyName": "Fabrikam"},
                 sponsors=("s-1",), disabled_at=T0 + timedelta(seconds=1), disabled_reason=DisabledReason.EXPIRY,
                 notice_sent_at=T0 - timedelta(days=2), activity_baseline=T0 - timedelta(days=3),
                 adopted_at=T0 - timedelta(days=4), directory_created_at=T0 - timedelta(days=5),
                 pending_action="disable", pending_since=T0, last_error="Graph said no")


async def test_a_created_record_reads_back_equal_with_the_same_etag(store):
    written = full_guest()
    created = await store.create(written, None)
    read = await store.get(written.id)
    assert created.etag and read.etag == created.etag
    assert replace(read, etag=None) == written


async def test_an_unknown_id_has_no_record(store):
    assert await store.get(guest_id(404)) is None


async def test_creating_a_tracked_id_is_a_conflict_and_keeps_the_record(store):
    first = await store.create(guest(1), None)
    with pytest.raises(ConcurrencyConflict):
        await store.create(guest(1, display_name="second"), claim("other@fabrikam.com"), [event(1)])
    assert await store.get(guest_id(1)) == first
    assert await store.get_claim("other@fabrikam.com") is None and await store.pending_events(10) == []


async def test_create_inserts_a_new_claim_linked_to_the_record(store):
    await store.create(guest(1), claim("g1@fabrikam.com"))
    linked = await store.get_claim("g1@fabrikam.com")
    assert linked.guest_id == guest_id(1) and linked.is_linked and linked.etag


async def test_create_links_the_claim_read_from_storage(store):
    held = await store.claim_email(claim("g1@fabrikam.com"))
    await store.create(guest(1), held)
    linked = await store.get_claim("g1@fabrikam.com")
    assert linked.guest_id == guest_id(1) and linked.owner == "owner-1" and linked.etag != held.etag


async def test_create_with_a_new_claim_when_another_holds_the_email_is_a_conflict_and_writes_nothing(store):
    other = await store.claim_email(claim("g1@fabrikam.com", owner="owner-2"))
    with pytest.raises(ConcurrencyConflict):
        await store.create(guest(1), claim("g1@fabrikam.com"), [event(1)])
    assert await store.get(guest_id(1)) is None and await store.get_claim("g1@fabrikam.com") == other
    assert await store.pending_events(10) == [] and await store.due(IndexKind.EXPIRES, T0 + timedelta(days=9), 10) == []


async def test_create_with_a_claim_changed_since_it_was_read_is_a_conflict_and_writes_nothing(store):
    held = await store.claim_email(claim("g1@fabrikam.com"))
    taken = await store.take_over_claim(replace(held, owner="owner-2"))
    with pytest.raises(ConcurrencyConflict):
        await store.create(guest(1), held, [event(1)])
    assert await store.get(guest_id(1)) is None and await store.get_claim("g1@fabrikam.com") == taken
    assert await store.pending_events(10) == []


async def test_create_whose_claim_vanished_is_a_conflict_and_writes_nothing(store):
    held = await store.claim_email(claim("g1@fabrikam.com"))
    await store.release_claim(held)  # e.g. the sweep released it while this request was in Graph
    with pytest.raises(ConcurrencyConflict):
        await store.create(guest(1), held, [event(1)])
    assert await store.get(guest_id(1)) is None and await store.get_claim("g1@fabrikam.com") is None
    assert await store.pending_events(10) == [] and await store.count_tracked() == 0


async def test_create_after_an_earlier_create_stopped_before_linking_the_claim_links_it_and_returns_the_record(store):
    held = await store.claim_email(claim("g1@fabrikam.com"))
    first = await store.create(guest(1), None, [event(1)])  # the record written, the process gone before the link
    stale = await store.get_claim("g1@fabrikam.com")
    assert not stale.is_linked and [c.email for c in await store.stale_claims(T0 + timedelta(days=1), 10)] == [
        "g1@fabrikam.com"]
    resolving = await store.take_over_claim(replace(held, owner="sweep", etag=stale.etag))  # resolve_stale_claim
    again = await store.create(guest(1, display_name="second try"), resolving, [event(2)])
    assert again == first and await store.get(guest_id(1)) == first
    linked = await store.get_claim("g1@fabrikam.com")
    assert linked.guest_id == guest_id(1) and linked.owner == "sweep" and linked.etag != resolving.etag
    assert [e.id for e in await store.pending_events(10)] == [event(1).id]
    assert await store.stale_claims(T0 + timedelta(days=1), 10) == []
    assert [g.id for g in (await store.query(GuestQuery(email="g1@fabrikam.com"))).guests] == [guest_id(1)]


async def test_create_of_a_tracked_id_with_a_held_claim_it_cannot_recover_is_a_conflict(store):
    await store.create(guest(1), None)
    other = await store.claim_email(claim("other@fabrikam.com"))
    with pytest.raises(ConcurrencyConflict):  # the record holds another email
        await store.create(guest(1), other)
    assert not (await store.get_claim("other@fabrikam.com")).is_linked
    mine = await store.claim_email(claim("g1@fabrikam.com"))
    taken = await store.take_over_claim(replace(mine, owner="owner-2"))
    with pytest.raises(ConcurrencyConflict):  # the claim changed since it was read
        await store.create(guest(1), mine)
    assert await store.get_claim("g1@fabrikam.com") == taken


async def test_an_event_of_another_guest_is_refused_and_nothing_is_written(store):
    with pytest.raises(ValueError):
        await store.create(guest(1), claim("g1@fabrikam.com"), [event(1, guest_n=2)])
    created = await store.create(guest(1), None)
    with pytest.raises(ValueError):
        await store.save(replace(created, display_name="x"), [event(2, guest_n=2)])
    assert await store.get(guest_id(1)) == created and await store.pending_events(10) == []
    assert await store.get_claim("g1@fabrikam.com") is None


# --- save ------------------------------------------------------------------------------------------
async def test_save_with_the_current_etag_replaces_the_record(store):
    created = await store.create(guest(1), None)
    saved = await store.save(replace(created, display_name="Renamed"))
    assert saved.etag and saved.etag != created.etag
    assert await store.get(guest_id(1)) == saved and saved.display_name == "Renamed"


async def test_save_of_a_record_read_back_from_storage_succeeds(store):
    await store.create(guest(1), None)
    read = await store.get(guest_id(1))
    assert (await store.save(replace(read, last_error="x"))).last_error == "x"


async def test_save_with_a_stale_etag_is_a_conflict_and_writes_nothing(store):
    created = await store.create(guest(1), None)
    winner = await store.save(replace(created, display_name="winner"))
    with pytest.raises(ConcurrencyConflict):
        await store.save(created.disable(T0, DisabledReason.EXPIRY), [event(1)])
    assert await store.get(guest_id(1)) == winner and await store.pending_events(10) == []
    assert await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 10) == []


async def test_save_all_replaces_every_record_moves_their_index_rows_and_hands_back_usable_etags(store):
    created = [await store.create(guest(n), None) for n in (1, 2, 3)]
    changed = [replace(created[0], display_name="one"), created[1].disable(T0, DisabledReason.EXPIRY),
               created[2].begin("disable:expiry", T0)]
    saved = await store.save_all(changed)
    assert [await store.get(g.id) for g in saved] == saved
    assert all(s.etag != c.etag for s, c in zip(saved, created, strict=True))
    assert await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 10) == [guest_id(2)]
    assert await store.due(IndexKind.EXPIRES, T0 + timedelta(days=9), 10) == [guest_id(1), guest_id(3)]
    again = await store.save(replace(saved[2], last_error="x"))
    assert (await store.get(guest_id(3))) == again


async def test_save_all_with_one_stale_etag_is_a_conflict_and_saves_none_of_its_transaction(store):
    one, two = sharing_a_partition(2)
    first, second = await store.create(guest(one), None), await store.create(guest(two), None)
    winner = await store.save(replace(second, display_name="winner"))
    with pytest.raises(ConcurrencyConflict):
        await store.save_all([replace(first, display_name="lost"), second.disable(T0, DisabledReason.EXPIRY)])
    assert await store.get(guest_id(one)) == first and await store.get(guest_id(two)) == winner
    assert await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 10) == []


async def test_save_all_of_guests_of_many_partitions_saves_them_all(store):
    created = [await store.create(guest(n), None) for n in range(1, 21)]  # over most of the Table store's partitions
    saved = await store.save_all([g.disable(T0, DisabledReason.EXPIRY) for g in created])
    assert [g.id for g in saved] == [g.id for g in created] and [await store.get(g.id) for g in saved] == saved
    assert sorted(await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 100)) == sorted(g.id for g in saved)


async def test_save_all_beyond_one_transaction_is_refused_before_anything_is_written(store):
    created = [await store.create(guest(n), None) for n in sharing_a_partition(51)]
    with pytest.raises(ValueError):
        await store.save_all([g.disable(T0, DisabledReason.EXPIRY) for g in created])
    assert await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 100) == []


async def test_save_of_a_record_never_stored_is_a_conflict(store):
    with pytest.raises(ConcurrencyConflict):
        await store.save(guest(1))
    with pytest.raises(ConcurrencyConflict):
        await store.save(guest(1, etag='W/"datetime\'2026-01-01T00%3A00%3A00Z\'"'))
    assert await store.get(guest_id(1)) is None


# --- concurrent writes -----------------------------------------------------------------------------
async def test_concurrent_saves_of_many_guests_all_land_with_their_own_etags_index_rows_and_events(store):
    created = await asyncio.gather(*(store.create(guest(n), None) for n in range(1, 41)))
    disabled = [g.disable(T0, DisabledReason.EXPIRY) for g in created]
    saved = await asyncio.gather(*(store.save(g, [event(n, n)]) for n, g in enumerate(disabled, start=1)))
    assert [await store.get(g.id) for g in saved] == saved and len({g.etag for g in saved}) == 40
    assert sorted(await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 100)) == sorted(g.id for g in saved)
    assert await store.due(IndexKind.EXPIRES, T0 + timedelta(days=90), 100) == []
    assert sorted(e.id for e in await store.pending_events(100)) == sorted(event(n).id for n in range(1, 41))
    again = await asyncio.gather(*(store.save(replace(g, last_error="again")) for g in saved))
    assert [await store.get(g.id) for g in again] == again


async def test_one_stale_etag_among_concurrent_saves_is_the_only_conflict_and_the_others_land(store):
    created = await asyncio.gather(*(store.create(guest(n), None) for n in range(1, 13)))
    winner = await store.save(replace(created[5], display_name="winner"))
    outcomes = await asyncio.gather(
        *(store.save(g.disable(T0, DisabledReason.EXPIRY), [event(n, n)]) for n, g in enumerate(created, start=1)),
        return_exceptions=True)
    assert [isinstance(o, ConcurrencyConflict) for o in outcomes] == [n == 5 for n in range(12)]
    assert await store.get(guest_id(6)) == winner
    landed = [o for o in outcomes if isinstance(o, Guest)]
    assert [await store.get(g.id) for g in landed] == landed and all(g.state is GuestState.DISABLED for g in landed)
    assert guest_id(6) not in await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 100)
    assert sorted(e.guest_id for e in await store.pending_events(100)) == sorted(g.id for g in landed)


async def test_concurrent_creates_all_link_their_claims_and_one_whose_email_is_held_is_the_only_conflict(store):
    await store.claim_email(claim("g4@fabrikam.com", owner="someone-else"))
    outcomes = await asyncio.gather(*(store.create(guest(n), claim(f"g{n}@fabrikam.com"), [event(n, n)])
                                      for n in range(1, 9)), return_exceptions=True)
    assert [isinstance(o, ConcurrencyConflict) for o in outcomes] == [n == 4 for n in range(1, 9)]
    assert await store.get(guest_id(4)) is None and (await store.get_claim("g4@fabrikam.com")).owner == "someone-else"
    for n in (1, 2, 3, 5, 6, 7, 8):
        assert await store.get(guest_id(n)) == outcomes[n - 1]
        assert (await store.get_claim(f"g{n}@fabrikam.com")).guest_id == guest_id(n)
    assert len(await store.pending_events(100)) == 7


# --- index ranges ----------------------------------------------------------------------------------
async def test_expiry_index_holds_live_guests_at_or_before_the_cut_oldest_first(store):
    await tracked(store, guest(3), guest(1), guest(2), guest(4, state=GuestState.DISABLED, disabled_at=T0,
                                                                  disabled_reason=DisabledReason.MANUAL))
    cut = T0 + timedelta(days=2)
    assert await store.due(IndexKind.EXPIRES, cut, 10) == [guest_id(1), guest_id(2)]
    assert await store.due(IndexKind.EXPIRES, cut - MICROSECOND, 10) == [guest_id(1)]
    assert await store.due(IndexKind.EXPIRES, T0 + timedelta(days=9), 2) == [guest_id(1), guest_id(2)]


async def test_each_index_kind_holds_the_guests_its_rule_names(store):
    await tracked(
        store,
        guest(1),  # invited, pending: exp + inv
        guest(2, state=GuestState.ACTIVE, invitation_state=InvitationState.ACCEPTED),  # exp only
        guest(3, state=GuestState.DISABLED, disabled_at=T0, disabled_reason=DisabledReason.INACTIVITY),  # dis
        guest(4, state=GuestState.DISABLED, disabled_at=T0, disabled_reason=DisabledReason.MANUAL),  # none
        guest(5, state=GuestState.DELETED, deleted_at=T0),  # del
        guest(6, state=GuestState.ACTIVE, invitation_state=InvitationState.ACCEPTED, pending_groups=("g",)),  # fix
        guest(7, state=GuestState.PURGED, purged_at=T0),  # none
    )
    far = T0 + timedelta(days=30)
    assert await store.due(IndexKind.EXPIRES, far, 10) == [guest_id(1), guest_id(2), guest_id(6)]
    assert await store.due(IndexKind.INVITED, far, 10) == [guest_id(1)]
    assert await store.due(IndexKind.DISABLED, far, 10) == [guest_id(3)]
    assert await store.due(IndexKind.DELETED, far, 10) == [guest_id(5)]
    assert await store.due(IndexKind.REPAIR, far, 10) == [guest_id(6)]
    assert await store.due(IndexKind.DISABLED, T0 - MICROSECOND, 10) == []


async def test_save_moves_the_index_rows_with_the_state(store):
    [created] = await tracked(store, guest(1))
    disabled = await store.save(created.disable(T0 + timedelta(hours=1), DisabledReason.EXPIRY))
    far = T0 + timedelta(days=30)
    assert await store.due(IndexKind.EXPIRES, far, 10) == [] and await store.due(IndexKind.INVITED, far, 10) == []
    assert await store.due(IndexKind.DISABLED, far, 10) == [guest_id(1)]
    await store.save(disabled.enable(T0 + timedelta(hours=2)))
    assert await store.due(IndexKind.DISABLED, far, 10) == []
    assert await store.due(IndexKind.EXPIRES, far, 10) == [guest_id(1)]


async def test_count_tracked_counts_invited_active_and_disabled(store):
    await tracked(store, guest(1), guest(2, state=GuestState.ACTIVE),
                  guest(3, state=GuestState.DISABLED, disabled_at=T0, disabled_reason=DisabledReason.MANUAL),
                  guest(4, state=GuestState.DELETED, deleted_at=T0), guest(5, state=GuestState.PURGED),
                  guest(6, state=GuestState.INVITING))
    assert await store.count_tracked() == 3


# --- outbox ----------------------------------------------------------------------------------------
async def test_events_are_written_with_the_record_and_read_back_oldest_first(store):
    late, early = event(1, at=T0 + timedelta(seconds=5)), event(2, at=T0)
    created = await store.create(guest(1), None, [late, early])
    third = event(3, at=T0 + timedelta(seconds=9))
    await store.save(replace(created, display_name="x"), [third])
    assert await store.pending_events(10) == [early, late, third]
    assert await store.pending_events(2) == [early, late]


async def test_removing_events_drains_the_outbox_and_removing_twice_is_silent(store):
    await store.create(guest(1), None, [event(1), event(2, at=T0 + MICROSECOND)])
    pending = await store.pending_events(10)
    await store.remove_events(pending[:1])
    await store.remove_events(pending)
    await store.remove_events(pending)
    assert await store.pending_events(10) == []


async def test_removing_more_events_than_one_transaction_holds_drains_them_all(store):
    many = [event(n, 1 if n <= 60 else 2, at=T0 + n * MICROSECOND) for n in range(1, 131)]
    await store.create(guest(1), None, many[:60])
    await store.create(guest(2), None, many[60:])
    await store.remove_events(many[:129])
    assert await store.pending_events(200) == [many[129]]


# --- listing ---------------------------------------------------------------------------------------
async def listed(store: GuestStore, query: GuestQuery) -> tuple[list[str], list[str], int]:
    """The ids listed and those named unreadable, page after page to the last, and how many pages it took."""
    seen: list[str] = []
    unreadable: list[str] = []
    token, pages = None, 0
    while True:
        page = await store.query(replace(query, continuation_token=token))
        assert len(page.guests) + len(page.unreadable) <= query.page_size
        seen += [g.id for g in page.guests]
        unreadable += [i for i, _ in page.unreadable]
        pages += 1
        token = page.continuation_token
        if token is None:
            return seen, unreadable, pages


async def test_listing_pages_through_every_record_once_in_a_stable_order(store):
    await tracked(store, *(guest(n) for n in (5, 3, 1, 4, 2)))
    seen, unreadable, pages = await listed(store, GuestQuery(page_size=2))
    assert sorted(seen) == [guest_id(n) for n in range(1, 6)] and unreadable == [] and pages == 3
    assert (await listed(store, GuestQuery(page_size=2)))[0] == seen
    assert (await listed(store, GuestQuery(page_size=100)))[0] == seen


async def test_listing_many_records_in_pages_holds_each_once(store):
    await asyncio.gather(*(store.create(guest(n), None) for n in range(1, 61)))
    seen, _, pages = await listed(store, GuestQuery(page_size=7))
    assert sorted(seen) == [guest_id(n) for n in range(1, 61)] and pages == 9


async def test_listing_filters_on_state(store):
    await tracked(store, guest(1), guest(2, state=GuestState.ACTIVE), guest(3, state=GuestState.ACTIVE))
    page = await store.query(GuestQuery(state=GuestState.ACTIVE))
    assert sorted(g.id for g in page.guests) == [guest_id(2), guest_id(3)] and page.continuation_token is None


async def test_listing_by_email_finds_the_record_the_email_is_linked_to(store):
    await tracked(store, guest(1), guest(2))
    await store.create(guest(3, email="unclaimed@fabrikam.com"), None)
    assert [g.id for g in (await store.query(GuestQuery(email="g2@fabrikam.com"))).guests] == [guest_id(2)]
    assert (await store.query(GuestQuery(email="g2@fabrikam.com", state=GuestState.ACTIVE))).guests == []
    assert (await store.query(GuestQuery(email="nobody@fabrikam.com"))).guests == []
    assert (await store.query(GuestQuery(email="unclaimed@fabrikam.com"))).guests == []


async def test_listing_expiring_before_holds_live_guests_strictly_before_in_expiry_order(store):
    await tracked(store, guest(3), guest(1), guest(2, state=GuestState.ACTIVE),
                  guest(4, state=GuestState.DISABLED, disabled_at=T0, disabled_reason=DisabledReason.MANUAL))
    before = T0 + timedelta(days=3)
    page = await store.query(GuestQuery(expiring_before=before))
    assert [g.id for g in page.guests] == [guest_id(1), guest_id(2)]
    assert [g.id for g in (await store.query(GuestQuery(expiring_before=before + MICROSECOND))).guests] == [
        guest_id(1), guest_id(2), guest_id(3)]
    active = await store.query(GuestQuery(expiring_before=before, state=GuestState.ACTIVE))
    assert [g.id for g in active.guests] == [guest_id(2)]
    by_email = await store.query(GuestQuery(email="g3@fabrikam.com", expiring_before=before))
    assert by_email.guests == []


async def test_listing_expiring_before_pages_in_expiry_order(store):
    await tracked(store, *(guest(n) for n in (4, 2, 3, 1)))
    first = await store.query(GuestQuery(expiring_before=T0 + timedelta(days=9), page_size=3))
    assert [g.id for g in first.guests] == [guest_id(1), guest_id(2), guest_id(3)] and first.continuation_token
    rest = await store.query(GuestQuery(expiring_before=T0 + timedelta(days=9), page_size=3,
                                        continuation_token=first.continuation_token))
    assert [g.id for g in rest.guests] == [guest_id(4)] and rest.continuation_token is None


@pytest.mark.parametrize("token", ["not-a-token", "1", "e30", "%%%"])
async def test_a_continuation_token_the_store_did_not_issue_is_invalid_input(store, token):
    await tracked(store, guest(1))
    with pytest.raises(InvalidRequest):
        await store.query(GuestQuery(continuation_token=token))


async def damage(store: GuestStore, tables, n: int) -> None:
    """Leave guest n's stored row unreadable, as a hand edit of the guests table would (a state that is none)."""
    if tables is None:
        del store.guests[guest_id(n)]  # type: ignore[attr-defined]
        store.damaged[guest_id(n)] = "ValueError: 'bogus' is not a valid GuestState"  # type: ignore[attr-defined]
        return
    client = await tables.table("guests")
    entity = await client.get_entity(codec.guest_partition(guest_id(n)), f"g_{guest_id(n)}")
    entity["State"] = "bogus"
    await client.upsert_entity(entity)


async def test_a_damaged_row_is_named_on_read_and_skipped_by_a_listing_that_still_holds_the_others(store, tables):
    await tracked(store, guest(1), guest(2), guest(3))
    await damage(store, tables, 2)
    with pytest.raises(UnreadableRecord) as unreadable:
        await store.get(guest_id(2))
    assert guest_id(2) in unreadable.value.message and unreadable.value.status == 409
    assert unreadable.value.details[0]["guestId"] == guest_id(2) and "bogus" in unreadable.value.details[0]["reason"]
    page = await store.query(GuestQuery())
    assert sorted(g.id for g in page.guests) == [guest_id(1), guest_id(3)]
    assert [i for i, _ in page.unreadable] == [guest_id(2)] and "bogus" in page.unreadable[0][1]
    seen, unreadable, pages = await listed(store, GuestQuery(page_size=1))
    assert sorted(seen) == [guest_id(1), guest_id(3)] and unreadable == [guest_id(2)] and pages == 3


async def test_ping_answers_on_an_empty_store(store):
    assert await store.ping() is None


# --- scan ------------------------------------------------------------------------------------------
async def test_scan_hands_on_every_record_once_a_page_at_a_time(store):
    created = await asyncio.gather(*(store.create(guest(n, state=state), None)
                                     for n, state in zip(range(1, 48), [GuestState.INVITED, GuestState.PURGED,
                                                                        GuestState.DELETED] * 16, strict=False)))
    pages: list[Page] = []
    handed = await store.scan(pages.append, page_size=5)
    seen = [g.id for page in pages for g in page.guests]
    assert handed == 47 and sorted(seen) == sorted(g.id for g in created) and len(set(seen)) == 47
    assert all(1 <= len(page.guests) <= 5 and page.continuation_token is None for page in pages)
    assert {g.id: g for page in pages for g in page.guests} == {g.id: g for g in created}


async def test_scan_of_an_empty_store_hands_on_nothing(store):
    pages: list[Page] = []
    assert await store.scan(pages.append) == 0 and pages == []


async def test_scan_names_a_damaged_row_and_hands_on_the_others(store, tables):
    await tracked(store, guest(1), guest(2), guest(3))
    await damage(store, tables, 2)
    pages: list[Page] = []
    assert await store.scan(pages.append, page_size=2) == 2
    assert sorted(g.id for page in pages for g in page.guests) == [guest_id(1), guest_id(3)]
    assert [i for page in pages for i, _ in page.unreadable] == [guest_id(2)]


async def test_a_failing_page_handler_stops_the_scan_with_its_error(store):
    await asyncio.gather(*(store.create(guest(n), None) for n in range(1, 30)))
    calls = []

    def refuse(page: Page) -> None:
        calls.append(page)
        raise RuntimeError("the consumer gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        await store.scan(refuse, page_size=2)
    assert len(calls) == 1

"""The email claim's life, each step's outcome: claimed, tracked already, held by another, stale; taken over,
linked, released, abandoned (the in-memory store)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.memory import InMemoryGuestStore
from lifecycle.config import Tuning
from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import EmailClaim, Guest, GuestState
from lifecycle.errors import ConcurrencyConflict, Conflict
from lifecycle.services.claims import AlreadyTracked, Claimed, EmailClaims, HeldByAnother, Left, Stale
from lifecycle.services.records import GuestRecords
from tests.support import MovableClock

EMAIL = "ada@fabrikam.com"
TUNING = Tuning(claim_wait_seconds=0.2, claim_poll_seconds=0.01, claim_stale_seconds=60)


@pytest.fixture
def world() -> tuple[InMemoryGuestStore, EmailClaims, MovableClock]:
    store, clock = InMemoryGuestStore(), MovableClock()
    return store, EmailClaims(records=GuestRecords(store, clock), tuning=TUNING, clock=clock), clock


def command(email: str = EMAIL) -> InviteGuest:
    return InviteGuest(email=email, expires_at=datetime(2030, 1, 1, tzinfo=UTC), display_name="Ada")


async def never_called(claim: EmailClaim) -> None:
    raise AssertionError(f"no stale claim was expected, got {claim.owner}")


async def held_by_other(store: InMemoryGuestStore, claimed_at: datetime) -> EmailClaim:
    return await store.claim_email(EmailClaim(email=EMAIL, owner="other", claimed_at=claimed_at,
                                              request=command().to_stored()))


async def test_a_new_email_is_claimed_with_the_whole_command(world):
    store, claims, _ = world
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed) and outcome.claim.etag is not None
    stored = store.claims[EMAIL]
    assert stored.owner == outcome.claim.owner and not stored.is_linked
    assert InviteGuest.from_stored(stored.request, email=EMAIL, claimed_at=stored.claimed_at,
                                   default_ttl_days=90) == command()


async def test_an_email_held_by_a_live_request_is_waited_for_then_refused(world):
    store, claims, clock = world
    other = await held_by_other(store, clock())
    assert await claims.attempt(claims.fresh(command())) == HeldByAnother(other)
    with pytest.raises(Conflict) as refused:
        await claims.claim(command(), finish_stale=never_called)
    assert refused.value.code == "InviteInProgress" and store.claims[EMAIL] == other  # nothing written


async def test_a_claim_linked_to_a_live_record_is_the_tracked_guest(world):
    store, claims, clock = world
    claim = await held_by_other(store, clock())
    await store.create(Guest(id="g1", email=EMAIL), claim)
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, AlreadyTracked) and outcome.guest.id == "g1"
    assert store.claims[EMAIL].owner == "other"  # the claim is left linked as it was


async def test_a_claim_linked_to_a_removed_record_is_taken_over(world):
    store, claims, clock = world
    claim = await held_by_other(store, clock())
    await store.create(Guest(id="g1", email=EMAIL, state=GuestState.PURGED), claim)
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed) and not outcome.claim.is_linked
    assert store.claims[EMAIL].owner == outcome.claim.owner != "other"


async def test_a_stale_claim_is_finished_before_the_email_is_claimed(world):
    store, claims, clock = world
    stale = await held_by_other(store, clock() - timedelta(seconds=61))
    assert await claims.attempt(claims.fresh(command())) == Stale(stale)
    finished: list[EmailClaim] = []

    async def finish(claim: EmailClaim) -> None:
        finished.append(claim)
        await store.release_claim(claim)  # its invitation found nothing in Graph

    outcome = await claims.claim(command(), finish_stale=finish)
    assert finished == [stale] and isinstance(outcome, Claimed) and store.claims[EMAIL] == outcome.claim


async def test_a_stale_claim_another_is_finishing_is_waited_for(world):
    store, claims, clock = world
    await held_by_other(store, clock() - timedelta(seconds=61))

    async def finished_elsewhere(claim: EmailClaim) -> None:
        raise ConcurrencyConflict("taken over by the sweep")

    with pytest.raises(Conflict):
        await claims.claim(command(), finish_stale=finished_elsewhere)


async def test_of_two_taking_over_a_stale_claim_one_wins(world):
    store, claims, clock = world
    stale = await held_by_other(store, clock() - timedelta(seconds=61))
    first, second = await claims.take_over(stale), await claims.take_over(stale)
    assert isinstance(first, Claimed) and second == HeldByAnother(None)
    assert store.claims[EMAIL].owner == first.claim.owner and first.claim.request == stale.request


async def test_a_released_claim_frees_the_email_and_releasing_again_is_harmless(world):
    store, claims, _ = world
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed)
    assert await claims.release(outcome.claim) == Left.RELEASED and EMAIL not in store.claims
    assert await claims.release(outcome.claim) == Left.RELEASED


async def test_an_abandoned_claim_is_stale_at_once_and_keeps_its_command(world):
    store, claims, clock = world
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed)
    assert await claims.abandon(outcome.claim) == Left.ABANDONED
    left = store.claims[EMAIL]
    assert left.is_stale(clock(), timedelta(days=365)) and left.request == outcome.claim.request
    assert await claims.attempt(claims.fresh(command())) == Stale(left)


async def test_a_claim_changed_by_another_is_left_unchanged(world):
    store, claims, _ = world
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed)
    taken = await store.take_over_claim(replace(outcome.claim, owner="sweep"))
    assert await claims.release(outcome.claim) == Left.UNCHANGED
    assert await claims.abandon(outcome.claim) == Left.UNCHANGED
    assert store.claims[EMAIL] == taken


async def test_a_claim_is_linked_to_a_record_another_request_created(world):
    store, claims, _ = world
    outcome = await claims.claim(command(), finish_stale=never_called)
    assert isinstance(outcome, Claimed)
    linked = await claims.link(outcome.claim, "g1")
    assert linked.guest_id == "g1" and store.claims[EMAIL].is_linked
    with pytest.raises(ConcurrencyConflict):
        await claims.link(outcome.claim, "g2")  # the version held is gone: no longer this request's claim

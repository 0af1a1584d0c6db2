"""Adoption of many guests on Azurite and the Graph emulator: a queue smaller than the directory, an interrupted run
resumed, the guard and the HTTP limit refusing before anything is written."""
from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import timedelta

import pytest

from lifecycle.errors import Conflict, LimitExceeded
from lifecycle.services.adoption import AdoptionService, Progress
from lifecycle.wiring import build_services
from tests.support import SetClock

pytestmark = pytest.mark.azurite
GUESTS = 1200


@pytest.fixture
async def world(live_env):
    clock, opened = SetClock(), []

    def make(**env: str):
        from lifecycle.config import Settings

        services = build_services(Settings.from_env({**live_env, **env}), clock=clock)
        opened.append(services)
        return services

    yield clock, make
    for services in opened:
        await services.close()


def with_queue(services, queued: int, writers: int = 16) -> AdoptionService:
    """Adoption with a queue of `queued` guests and `writers` writers, both smaller than the directory."""
    return AdoptionService(records=services.records, directory=services.directory, audit=services.audit,
                           settings=services.settings, clock=services.clock,
                           policy=services.expiry.policy(None, False), queued_guests=queued, writers=writers)


async def adopted_events(services) -> Counter[str]:
    return Counter(e.guest_id for e in await services.records.store.pending_events(5 * GUESTS)
                   if e.type == "guest.adopted")


async def test_an_interrupted_run_resumed_adopts_every_guest_once(world, emulator):
    clock, make = world
    ids = emulator.seed_users(count=GUESTS, userType="Guest", mail="r{n}@partner.example", externalUserState="Accepted")
    services = make()
    adoption = with_queue(services, queued=150, writers=512)  # many guests in hand when interrupted

    def interrupt_after_200(progress: Progress) -> None:  # and again at each report after: a second interruption
        if progress.stage == "writing" and progress.adopted >= 200:  # must not cut off the guests in hand
            first.cancel()

    first = asyncio.ensure_future(adoption.adopt(actor="test", on_progress=interrupt_after_200))
    with pytest.raises(asyncio.CancelledError):
        await first
    adopted_first = await services.records.store.count_tracked()
    assert 200 <= adopted_first < GUESTS
    assert set((await adopted_events(services)).values()) == {1}
    (stopped,) = [e for e in await services.audit.entries_for("directory") if e.action == "guests.adopt"]
    assert stopped.outcome == "interrupted" and stopped.details["adopted"] == adopted_first

    again = (await adoption.adopt(actor="test")).to_body()
    assert again["adopted"] == GUESTS - adopted_first and again["alreadyTracked"] == adopted_first
    assert again["found"] == GUESTS and again["skipped"] == []
    assert await services.records.store.count_tracked() == GUESTS
    assert await adopted_events(services) == Counter({guest_id: 1 for guest_id in ids})
    assert emulator.writes() == 0


async def test_a_queue_smaller_than_the_directory_adopts_it_in_several_scans(world, emulator):
    clock, make = world
    ids = emulator.seed_users(count=GUESTS, userType="Guest", mail="q{n}@partner.example", externalUserState="Accepted")
    services = make()
    emulator.clear_calls()
    report = (await with_queue(services, queued=100).adopt(actor="test")).to_body()
    assert report == {"dryRun": False, "found": GUESTS, "adopted": GUESTS, "alreadyTracked": 0, "skipped": [],
                      "guard": {"tripped": False, "message": ""}}
    assert await adopted_events(services) == Counter({guest_id: 1 for guest_id in ids})
    writing_pages = emulator.count("GET /users") - math.ceil(GUESTS / 999)  # besides the counting pass
    assert writing_pages > math.ceil(GUESTS / 100)  # more than one writing scan (pages of 100 with sponsors)


async def test_the_guard_and_the_http_limit_refuse_before_anything_is_written(world, emulator):
    clock, make = world
    long_ago = (clock.now - timedelta(days=400)).isoformat().replace("+00:00", "Z")
    emulator.seed_users(count=30, userType="Guest", mail="g{n}@partner.example", externalUserState="Accepted",
                        createdDateTime=long_ago)
    services = make(INACTIVITY_DAYS="90")
    emulator.clear_calls()
    with pytest.raises(Conflict) as refused:
        await services.adoption.adopt(actor="test")
    assert refused.value.code == "AdoptionGuardTripped" and "30 guests" in refused.value.message
    assert emulator.count("GET /users") == 1  # the counting pass alone: no writing pass
    with pytest.raises(LimitExceeded) as too_many:
        await services.adoption.adopt(actor="test", max_guests=29)
    assert too_many.value.code == "AdoptionTooLarge"
    assert await services.records.store.count_tracked() == 0
    assert await services.records.store.pending_events(10) == []

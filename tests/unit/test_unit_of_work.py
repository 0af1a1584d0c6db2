"""The sending unit of work: each commit's events go to the queue at once, in the background, one guest's in commit
order; the block ends when every send has finished; what a send cannot deliver stays in the outbox."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lifecycle.adapters.memory import InMemoryEventPublisher, InMemoryGuestStore
from lifecycle.domain import events
from lifecycle.domain.model import Guest
from lifecycle.errors import StorageUnavailable
from lifecycle.ports import Event
from lifecycle.request_log import sending_unit_of_work, unit_of_work
from lifecycle.services.dispatch import EventDispatcher
from lifecycle.services.records import GuestRecords
from tests.support import logged

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class GatedPublisher(InMemoryEventPublisher):
    """Publishes once its gate is open; `started` lists the event types it was handed, `published` what the queue
    has. An event of a type in `refused` is refused as an unreachable queue would. A gate left shut fails the
    publish after two seconds (a failing test ends instead of hanging)."""

    def __init__(self, refused: Sequence[str] = ()) -> None:
        super().__init__()
        self.started: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.refused = set(refused)

    async def publish(self, event: Event) -> None:
        self.started.append(event.type)
        async with asyncio.timeout(2):
            await self.gate.wait()
        if event.type in self.refused:
            raise StorageUnavailable("event queue: unreachable")
        await super().publish(event)


class Outbox:
    def __init__(self, publisher: GatedPublisher) -> None:
        self.store = InMemoryGuestStore()
        self.publisher = publisher
        self.dispatcher = EventDispatcher(self.store, publisher)
        self.records = GuestRecords(self.store, lambda: NOW)

    async def invite(self, guest_id: str) -> Guest:
        guest = Guest(id=guest_id, email=f"{guest_id}@fabrikam.com", created_at=NOW, updated_at=NOW)
        return await self.records.create(guest, None, [events.guest_event(events.INVITED, guest, NOW)])

    async def rename(self, guest: Guest, name: str) -> Guest:
        return await self.records.update(guest, lambda g: replace(g, display_name=name), events.EXTENDED)

    def types(self, listed: Sequence[Event]) -> list[tuple[str, str]]:
        return [(event.guest_id, event.type) for event in listed]


async def until(condition: Callable[[], object], seconds: float = 2.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.001)



async def invite_in_one_request(outbox: Outbox, *guest_ids: str) -> None:
    """A request's unit of work inviting the guests one after another."""
    async with sending_unit_of_work(outbox.dispatcher.sender()):
        for guest_id in guest_ids:
            await outbox.invite(guest_id)


async def request_with_its_sends_held(*guest_ids: str) -> tuple[Outbox, asyncio.Task[None]]:
    """A request inviting the guests, running, its first send started and held at the queue's gate."""
    outbox = Outbox(GatedPublisher())
    outbox.publisher.gate.clear()
    running = asyncio.create_task(invite_in_one_request(outbox, *guest_ids))
    await until(lambda: outbox.publisher.started)
    return outbox, running

async def test_a_commit_is_published_and_removed_from_the_outbox_while_the_block_still_runs():
    outbox = Outbox(GatedPublisher())
    async with sending_unit_of_work(outbox.dispatcher.sender()) as written:
        await outbox.invite("g1")
        await until(lambda: not outbox.store.outbox)
        assert outbox.types(outbox.publisher.published) == [("g1", "guest.invited")]
    assert outbox.types(written) == [("g1", "guest.invited")]


async def test_a_later_commit_of_the_guest_is_sent_only_after_the_earlier_one():
    outbox = Outbox(GatedPublisher())
    outbox.publisher.gate.clear()
    async with sending_unit_of_work(outbox.dispatcher.sender()):
        guest = await outbox.invite("g1")
        await until(lambda: outbox.publisher.started)
        guest = await outbox.rename(guest, "Ann")
        await outbox.rename(guest, "Bea")
        await asyncio.sleep(0.02)
        assert outbox.publisher.started == ["guest.invited"]
        outbox.publisher.gate.set()
    assert outbox.types(outbox.publisher.published) == [("g1", "guest.invited"), ("g1", "guest.extended"),
                                                        ("g1", "guest.extended")]
    assert outbox.store.outbox == []


async def test_the_block_ends_only_when_every_send_it_started_has_finished():
    outbox, ended = await request_with_its_sends_held("g1", "g2")
    await asyncio.sleep(0.02)
    assert not ended.done() and len(outbox.store.outbox) == 2
    outbox.publisher.gate.set()
    await ended
    assert {event.guest_id for event in outbox.publisher.published} == {"g1", "g2"} and outbox.store.outbox == []


async def test_events_committed_by_tasks_the_block_starts_are_sent_too():
    outbox = Outbox(GatedPublisher())
    async with sending_unit_of_work(outbox.dispatcher.sender()):
        await asyncio.gather(outbox.invite("g1"), outbox.invite("g2"))
    assert {event.guest_id for event in outbox.publisher.published} == {"g1", "g2"} and outbox.store.outbox == []


async def test_a_refused_publish_keeps_that_guests_later_events_in_the_outbox_behind_it_and_raises_nothing():
    outbox = Outbox(GatedPublisher(refused=["guest.invited"]))
    async with sending_unit_of_work(outbox.dispatcher.sender()):
        first = await outbox.invite("g1")
        await until(lambda: outbox.publisher.started)
        await outbox.rename(first, "Ann")
        other = await outbox.records.create(Guest(id="g2", email="g2@fabrikam.com"), None, [])
        await outbox.rename(other, "Bea")
    assert outbox.types(outbox.publisher.published) == [("g2", "guest.extended")]
    assert outbox.types(outbox.store.outbox) == [("g1", "guest.invited"), ("g1", "guest.extended")]


async def test_a_send_that_raises_is_logged_and_the_later_commits_stay_in_the_outbox(caplog):
    outbox = Outbox(GatedPublisher())
    sent: list[list[str]] = []

    async def defective(committed: Sequence[Event]) -> int:
        sent.append([event.guest_id for event in committed])
        raise RuntimeError("a defect in sending")

    with caplog.at_level(logging.WARNING, logger="lifecycle"):
        async with sending_unit_of_work(defective):
            await outbox.invite("g1")
            await outbox.invite("g2")
    assert sent == [["g1"]] and len(outbox.store.outbox) == 2
    failed = [entry for entry in logged(caplog.records) if entry["level"] == "error"]
    assert len(failed) == 1 and "RuntimeError: a defect in sending" in failed[0]["exception"]
    assert any("earlier send failed" in entry["event"] for entry in logged(caplog.records))


async def test_events_committed_before_the_block_fails_are_sent_and_the_error_goes_on():
    outbox = Outbox(GatedPublisher())
    outbox.publisher.gate.clear()
    with pytest.raises(KeyError):
        async with sending_unit_of_work(outbox.dispatcher.sender()):
            await outbox.invite("g1")
            asyncio.get_running_loop().call_later(0.02, outbox.publisher.gate.set)
            raise KeyError("a later step failed")
    assert outbox.types(outbox.publisher.published) == [("g1", "guest.invited")] and outbox.store.outbox == []


async def test_a_cancelled_block_waits_for_the_sends_it_started():
    outbox = Outbox(GatedPublisher())
    outbox.publisher.gate.clear()

    async def request() -> None:
        async with sending_unit_of_work(outbox.dispatcher.sender()):
            await outbox.invite("g1")
            await asyncio.Event().wait()

    running = asyncio.create_task(request())
    await until(lambda: outbox.publisher.started)
    running.cancel()
    await asyncio.sleep(0.02)
    assert not running.done()
    outbox.publisher.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert outbox.types(outbox.publisher.published) == [("g1", "guest.invited")] and outbox.store.outbox == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_block_cancelled_again_while_it_waits_cancels_its_sends_and_leaves_the_events_in_the_outbox():
    outbox, running = await request_with_its_sends_held("g1", "g2")
    await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(0.5):  # the gate stays shut: only cancelling the sends ends the block
            await running
    assert outbox.publisher.published == [] and len(outbox.store.outbox) == 2
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_plain_unit_of_work_and_no_unit_of_work_send_nothing():
    outbox = Outbox(GatedPublisher())
    with unit_of_work() as written:
        await outbox.invite("g1")
    await outbox.invite("g2")
    await asyncio.sleep(0.01)
    assert outbox.publisher.started == [] and outbox.types(written) == [("g1", "guest.invited")]
    assert len(outbox.store.outbox) == 2

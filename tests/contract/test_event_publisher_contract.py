"""EventPublisher contract: the in-memory publisher and the Storage Queue publisher (Azurite) deliver the same."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lifecycle.adapters.memory import InMemoryEventPublisher
from lifecycle.adapters.queue import QueueEventPublisher
from lifecycle.config import Settings
from lifecycle.errors import StorageUnavailable
from lifecycle.ports import Event, EventPublisher
from tests.support import app_environment, free_port, queued_events

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


@dataclass
class Channel:
    publisher: EventPublisher
    delivered: Callable[[], list[Event]]


def from_cloud_event(message: dict) -> Event:
    return Event(type=message["type"], guest_id=message["subject"].removeprefix("guests/"), data=message["data"],
                 id=message["id"], time=datetime.fromisoformat(message["time"]) if message["time"] else None)


@pytest.fixture
async def channel(storage_settings: Settings | None) -> AsyncIterator[Channel]:
    if storage_settings is None:
        memory = InMemoryEventPublisher()
        yield Channel(memory, lambda: list(memory.published))
        return
    queue = QueueEventPublisher(storage_settings, None)
    yield Channel(queue, lambda: [from_cloud_event(m) for m in queued_events(
        storage_settings.tables_connection_string, storage_settings.events_queue)])
    await queue.close()


def event(n: int) -> Event:
    return Event(type="guest.disabled", guest_id="guest-1", data={"reason": "expiry", "n": n, "name": "Zoë"},
                 id=f"evt-{n}", time=T0)


async def test_nothing_published_is_nothing_delivered(channel):
    assert channel.delivered() == []


async def test_events_are_delivered_whole_in_the_order_published(channel):
    for n in (1, 2, 3):
        await channel.publisher.publish(event(n))
    assert channel.delivered() == [event(1), event(2), event(3)]


async def test_an_event_published_twice_is_delivered_twice_with_one_id(channel):
    await channel.publisher.publish(event(1))
    await channel.publisher.publish(event(1))
    assert [e.id for e in channel.delivered()] == ["evt-1", "evt-1"]


@pytest.mark.azurite
async def test_queue_messages_are_cloud_events(azurite):
    storage_settings = Settings.from_env(app_environment(azurite.connection_string, "http://127.0.0.1:9"))
    publisher = QueueEventPublisher(storage_settings, None)
    await publisher.publish(event(1))
    await publisher.close()
    [message] = queued_events(storage_settings.tables_connection_string, storage_settings.events_queue)
    assert {k: message[k] for k in ("specversion", "source", "subject", "datacontenttype")} == {
        "specversion": "1.0", "source": "/guest-lifecycle", "subject": "guests/guest-1",
        "datacontenttype": "application/json"}


async def test_a_queue_that_cannot_be_reached_raises_storage_unavailable():
    port = free_port()
    connection = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={'a' * 88};"
                  f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
                  f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    publisher = QueueEventPublisher(Settings.from_env(app_environment(connection, "http://127.0.0.1:9")), None)
    with pytest.raises(StorageUnavailable):
        await publisher.publish(event(1))
    await publisher.close()

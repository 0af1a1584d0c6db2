"""What a request committed reaches the queue at once, even when a later write of the same request fails
(Azurite tables and queue, the Graph emulator over HTTP)."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import StorageUnavailable
from lifecycle.ports import Event, GuestStore
from lifecycle.wiring import Services, build_services, container
from tests.api_client import call
from tests.conftest import FAST
from tests.support import GROUP_A

pytestmark = pytest.mark.azurite


class SavesFailAfterCreate:
    """The real Table store, except that every `save` after the first `create` fails as if storage went down."""

    def __init__(self, store: GuestStore) -> None:
        self._store = store
        self.created = 0
        self.failed_saves = 0

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        created = await self._store.create(guest, claim, events)
        self.created += 1
        return created

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        if self.created:
            self.failed_saves += 1
            raise StorageUnavailable("save guest: storage is unreachable", retry_after=5)
        return await self._store.save(guest, events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def queued_event_types(services: Services) -> list[str]:
    """The types of the events on the queue; fails loudly when the queue cannot be read."""
    settings = services.settings
    client = QueueClient.from_connection_string(settings.tables_connection_string, settings.events_queue)
    try:
        return [json.loads(m.content)["type"] for m in client.peek_messages(max_messages=32)]
    finally:
        client.close()


@pytest.fixture
async def failing_saves(live: Services) -> AsyncIterator[tuple[Services, SavesFailAfterCreate]]:
    store = SavesFailAfterCreate(live.records.store)
    services = build_services(live.settings, store=store, tuning=FAST)  # type: ignore[arg-type]
    container.use(lambda: services)
    yield services, store
    await services.close()


async def test_invite_whose_bookkeeping_write_fails_still_sends_guest_invited(failing_saves, emulator):
    services, store = failing_saves
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "kept@fabrikam.com",
                                                                     "groups": [GROUP_A]})
    assert status == 503 and body["error"]["code"] == "StorageUnavailable"
    assert store.created == 1 and store.failed_saves >= 1
    assert queued_event_types(services) == ["guest.invited"]
    assert await services.records.store.pending_events(10) == []

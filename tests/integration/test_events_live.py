"""Lifecycle events go through the Table outbox to the Storage Queue (Azurite)."""
from __future__ import annotations

import pytest

from lifecycle.domain.model import DisabledReason
from tests.api_client import api, call
from tests.support import queued_events

pytestmark = pytest.mark.azurite


def queue_messages(live) -> list[dict]:
    return queued_events(live.settings.tables_connection_string, live.settings.events_queue)


async def test_each_transition_emits_exactly_one_cloud_event(live, emulator):
    guest_id = await api.invite_id("ev@fabrikam.com")
    for verb in ("disable", "disable", "enable"):
        await call(f"{verb}_guest", "POST", f"guests/{guest_id}/{verb}", route={"id": guest_id})
    await call("extend_guest", "POST", f"guests/{guest_id}/extend", {"days": 10}, route={"id": guest_id})
    await call("delete_guest", "DELETE", f"guests/{guest_id}", route={"id": guest_id})
    messages = queue_messages(live)
    assert [m["type"] for m in messages] == ["guest.invited", "guest.disabled", "guest.enabled", "guest.extended",
                                             "guest.deleted"]
    first = messages[0]
    assert first["specversion"] == "1.0" and first["subject"] == f"guests/{guest_id}" and first["id"]
    assert first["data"]["email"] == "ev@fabrikam.com" and len({m["id"] for m in messages}) == 5
    assert await live.records.store.pending_events(10) == []


async def test_crash_before_dispatch_is_delivered_by_the_next_sweep(live, emulator):
    guest_id = await api.invite_id("late@fabrikam.com")
    before = len(queue_messages(live))
    services = live
    await services.operations.run(services.operations.disabling(DisabledReason.MANUAL), guest_id, "test")
    # the operation committed its event to the outbox, and the process stopped before sending it
    assert len(queue_messages(live)) == before
    assert [e.type for e in await services.records.store.pending_events(10)] == ["guest.disabled"]
    await services.dispatcher.drain(services.clock(), settle_seconds=0)
    assert [m["type"] for m in queue_messages(live)][-1] == "guest.disabled"
    assert await services.records.store.pending_events(10) == []


async def test_a_failed_change_emits_nothing(live, emulator):
    guest_id = await api.invite_id("fail@fabrikam.com")
    before = queue_messages(live)
    emulator.configure(faultRate=1.0, faultStatuses=[503], faultRetryAfter=45)
    status, body, _ = await call("disable_guest", "POST", f"guests/{guest_id}/disable", route={"id": guest_id})
    emulator.configure(faultRate=0.0)
    assert status == 503 and body["error"]["code"] == "GraphUnavailable"
    assert queue_messages(live) == before and await live.records.store.pending_events(10) == []
    record = await live.records.store.get(guest_id)
    assert record.state.value == "invited" and record.pending_action == ""

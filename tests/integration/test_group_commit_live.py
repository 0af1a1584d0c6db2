"""Group commit on Azurite: concurrent guarded writes of the Table store share transactions, within the service's
limits, and each caller keeps the outcome it would have alone."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings
from lifecycle.domain.model import DisabledReason, Guest, GuestState, IndexKind
from lifecycle.errors import ConcurrencyConflict
from lifecycle.ports import Event
from tests import builders
from tests.support import app_environment

pytestmark = pytest.mark.azurite
T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class CountingStore(TableGuestStore):
    """The Table store, recording how many operations each transaction it sends holds."""

    def __init__(self, tables: LifecycleTables) -> None:
        super().__init__(tables)
        self.transactions: list[int] = []

    async def _transact(self, operations: list[tuple[Any, ...]]) -> list[Any]:
        self.transactions.append(len(operations))
        return await super()._transact(operations)


@pytest.fixture
async def tables(azurite) -> AsyncIterator[LifecycleTables]:
    settings = Settings.from_env(app_environment(azurite.connection_string, "http://127.0.0.1:9"))
    handle = LifecycleTables(build_service_client(settings, None), settings)
    yield handle
    await handle.close()


def guest(n: int) -> Guest:
    return builders.guest(n, expires_at=T0 + timedelta(days=n), invited_at=T0, created_at=T0, updated_at=T0)


def event(n: int, of: Guest) -> Event:
    return Event(type="guest.disabled", guest_id=of.id, data={"n": n, "note": "Grüße 😀"}, id=f"evt-{n}", time=T0)


def one_partition(count: int) -> list[int]:
    """Numbers of `count` guests whose rows share a partition (so their writes can share transactions)."""
    by_partition: dict[str, list[int]] = {}
    for n in range(1, 100_000):
        found = by_partition.setdefault(codec.guest_partition(guest(n).id), [])
        found.append(n)
        if len(found) == count:
            return found
    raise AssertionError("no partition holds that many")


async def created(store: TableGuestStore, count: int) -> list[Guest]:
    return [await store.create(guest(n), None) for n in one_partition(count)]


async def test_concurrent_saves_share_transactions_of_at_most_a_hundred_operations(tables):
    store = CountingStore(tables)
    guests = await created(store, 40)
    store.transactions.clear()
    saved = await asyncio.gather(*(store.save(g.disable(T0, DisabledReason.EXPIRY), [event(n, g)])
                                   for n, g in enumerate(guests, start=1)))
    each = store.transactions[0]  # the first write went at once, alone: record, index rows moved, outbox row
    assert each >= 4 and sum(store.transactions) == 40 * each and all(n % each == 0 for n in store.transactions)
    assert len(store.transactions) <= 6 and max(store.transactions) <= codec.TRANSACTION_LIMIT
    assert [await store.get(g.id) for g in saved] == saved
    assert len(await store.due(IndexKind.DISABLED, T0 + timedelta(days=1), 100)) == 40


async def test_a_record_removed_under_one_of_concurrent_saves_fails_only_that_save(tables):
    store = CountingStore(tables)
    guests = await created(store, 10)
    client = await tables.table("guests")
    await client.delete_entity(codec.guest_partition(guests[6].id), codec.guest_key(guests[6].id))  # purged by another
    store.transactions.clear()
    outcomes = await asyncio.gather(*(store.save(g.disable(T0, DisabledReason.EXPIRY), [event(n, g)])
                                      for n, g in enumerate(guests, start=1)), return_exceptions=True)
    assert [isinstance(o, ConcurrencyConflict) for o in outcomes] == [n == 6 for n in range(10)]
    each = store.transactions[0]
    assert store.transactions[1:] == [9 * each] + [each] * 9  # the nine combined, then each alone
    for outcome in outcomes:
        if isinstance(outcome, Guest):
            assert await store.get(outcome.id) == outcome and outcome.state is GuestState.DISABLED
    assert await store.get(guests[6].id) is None
    assert sorted(e.id for e in await store.pending_events(20)) == sorted(f"evt-{n}" for n in range(1, 11) if n != 7)


async def test_the_size_bound_of_an_operation_covers_the_request_the_sdk_sends(tables):
    unusual = guest(1).disable(T0, DisabledReason.EXPIRY)
    partition = codec.guest_partition(unusual.id)
    records = [codec.guest_to_entity(unusual), codec.event_to_entity(event(1, unusual)),
               {**codec.index_entity("x_d_1_a"), "PartitionKey": partition},
               {"PartitionKey": partition, "RowKey": "x_q", "Text": 'quotes " \\ \n \x01 ☃ 😀' * 200}]
    client = await tables.table("guests")
    sent: list[int] = []
    await client.submit_transaction([("upsert", entity) for entity in records],
                                    raw_request_hook=lambda request: sent.append(len(request.http_request.body)))
    assert sent and sent[0] <= sum(codec.operation_bytes(entity) for entity in records)


async def test_writes_of_different_partitions_never_share_a_transaction_and_run_at_the_same_time(tables):
    store = CountingStore(tables)
    apart = [guest(n) for n in range(1, 200) if codec.guest_partition(guest(n).id) in ("guests-0", "guests-1")][:8]
    in_flight = most = 0
    original = store._transact

    async def transact(operations: list[tuple[Any, ...]]) -> list[Any]:
        nonlocal in_flight, most
        assert len({operation[1]["PartitionKey"] for operation in operations}) == 1
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.05)
            return await original(operations)
        finally:
            in_flight -= 1

    store._transact = transact  # type: ignore[method-assign]
    store._commits._transact = transact  # type: ignore[attr-defined]
    created = await asyncio.gather(*(store.create(g, None, [event(n, g)]) for n, g in enumerate(apart, start=1)))
    assert [await store.get(g.id) for g in created] == list(created) and most == 2
    assert sorted(e.id for e in await store.pending_events(20)) == sorted(f"evt-{n}" for n in range(1, 9))

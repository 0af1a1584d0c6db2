"""`python -m lifecycle migrate` on Azurite: a guests table of layout 1 (every row in the partition `guests`) moved to
the partitioned layout, interrupted and resumed, with the app refusing the table until it is done."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables.aio import TableClient
from click.testing import CliRunner

from lifecycle.adapters.tables import codec, layout
from lifecycle.adapters.tables import migration as migration_module
from lifecycle.adapters.tables.audit import TableAuditLog
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.migration import Migration
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.cli import main
from lifecycle.config import Settings
from lifecycle.domain.model import DisabledReason, EmailClaim, Guest, GuestState, IndexKind
from lifecycle.errors import ConfigurationError
from lifecycle.ports import AuditEntry, Event, GuestQuery
from tests.support import app_environment

pytestmark = pytest.mark.azurite
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FAR = T0 + timedelta(days=400)


def guest(n: int, **changes: Any) -> Guest:
    base = Guest(id=f"00000000-0000-4000-8000-{n:012d}", email=f"g{n}@fabrikam.com", expires_at=T0 + timedelta(days=n),
                 invited_at=T0, created_at=T0, updated_at=T0)
    return replace(base, **changes)


GUESTS = [guest(n) for n in range(1, 9)] + [guest(9, state=GuestState.DISABLED, disabled_at=T0,
                                                  disabled_reason=DisabledReason.EXPIRY)]
EVENTS = [Event(type="guest.invited", guest_id=g.id, data={"n": n}, id=f"evt-{n}", time=T0 + timedelta(seconds=n))
          for n, g in enumerate(GUESTS[:3], start=1)]
LINKED = [EmailClaim(email=g.email, guest_id=g.id, claimed_at=T0, owner="o") for g in GUESTS]
UNLINKED = EmailClaim(email="o'brien/#x@fabrikam.com", claimed_at=T0, owner="dead", request={"email": "x"})


def old_row(entity: dict[str, Any]) -> dict[str, Any]:
    return {**entity, "PartitionKey": codec.OLD_PARTITION}


def layout_one() -> list[dict[str, Any]]:
    """The rows a version before the partitioned layout wrote for GUESTS, their claims and events."""
    rows = [old_row(codec.guest_to_entity(g)) for g in GUESTS]
    rows += [old_row(codec.index_entity(key)) for g in GUESTS for key in codec.index_rows(g)]
    rows += [old_row(codec.claim_to_entity(c)) for c in [*LINKED, UNLINKED]]
    rows += [old_row(codec.event_to_entity(e)) for e in EVENTS]
    return rows


@pytest.fixture
def env(azurite) -> dict[str, str]:
    return app_environment(azurite.connection_string, "http://127.0.0.1:9")


@pytest.fixture
async def tables(env: dict[str, str]) -> AsyncIterator[LifecycleTables]:
    settings = Settings.from_env(env)
    handle = LifecycleTables(build_service_client(settings, None), settings)
    yield handle
    await handle.close()


async def seeded(tables: LifecycleTables) -> TableClient:
    client = await tables.table("guests")
    for row in layout_one():
        await client.create_entity(row)
    return client


async def rows_of(client: TableClient) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["PartitionKey"], row["RowKey"]): dict(row) async for row in client.list_entities()}


async def cli(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Any:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


def assert_all_there(found: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every row of layout 1 is in the table, in its old partition or its new one (nothing lost), its values kept."""
    for row in layout_one():
        new = migration_module.new_partition(row)
        copy = found.get((codec.OLD_PARTITION, row["RowKey"])) or found.get((str(new), row["RowKey"]))
        assert copy is not None, row["RowKey"]
        assert {k: v for k, v in copy.items() if k != "PartitionKey"} == {
            k: v for k, v in row.items() if k != "PartitionKey"}, row["RowKey"]


async def test_the_app_refuses_the_old_layout_and_a_dry_run_counts_what_it_would_move(tables, env, monkeypatch):
    client = await seeded(tables)
    with pytest.raises(ConfigurationError) as refused:
        await TableGuestStore(tables).get(GUESTS[0].id)
    assert refused.value.status == 503 and "python -m lifecycle migrate --apply" in refused.value.message
    before = await rows_of(client)
    result = await cli(monkeypatch, env, "migrate")
    assert result.exit_code == 0, result.output
    index_rows = sum(len(codec.index_rows(g)) for g in GUESTS)
    assert f"would move records 9, claims 10, index rows {index_rows}, outbox rows 3" in result.output
    assert await rows_of(client) == before and await layout.read_marker(client) is None


async def test_an_interrupted_migration_is_refused_loses_nothing_and_a_rerun_finishes_it(tables, env, monkeypatch):
    client = await seeded(tables)
    audit = TableAuditLog(tables)
    entry = AuditEntry(actor="cli", action="invite", target=GUESTS[0].id, outcome="ok", at=T0, details={"a": 1})
    await audit.record(entry)
    audit_rows = [dict(row) async for row in (await tables.table("audit")).list_entities()]
    monkeypatch.setattr(migration_module, "PAGE_SIZE", 7)
    deletes = 0
    original_delete = Migration._delete

    async def crash_on_second_delete(self: Migration, rows: list[Any]) -> set[str]:
        nonlocal deletes
        deletes += 1
        if deletes == 2:
            raise RuntimeError("the process died")  # the second page copied, its old rows not yet deleted
        return await original_delete(self, rows)

    monkeypatch.setattr(Migration, "_delete", crash_on_second_delete)
    with pytest.raises(RuntimeError):
        await Migration(client).run(apply=True)
    half = await rows_of(client)
    assert_all_there(half)
    assert any(key[0] == codec.OLD_PARTITION for key in half) and any(key[0] in codec.PARTITIONS for key in half)
    assert (await layout.read_marker(client))["State"] == layout.MIGRATING  # type: ignore[index]
    with pytest.raises(ConfigurationError) as refused:
        await TableGuestStore(tables).get(GUESTS[0].id)
    assert "under way or was interrupted" in refused.value.message and "migrate --apply" in refused.value.message

    monkeypatch.setattr(Migration, "_delete", original_delete)
    result = await cli(monkeypatch, env, "migrate", "--apply")
    assert result.exit_code == 0, result.output
    assert "layout marker: done" in result.output
    done = await rows_of(client)
    assert_all_there(done)
    assert not any(key[0] == codec.OLD_PARTITION for key in done)
    assert len(done) == len(layout_one()) + 1  # every row once, and the marker
    assert [dict(row) async for row in (await tables.table("audit")).list_entities()] == audit_rows
    assert await audit.entries_for(GUESTS[0].id) == [entry]

    store = TableGuestStore(tables)
    for g in GUESTS:
        assert replace(await store.get(g.id), etag=None) == g  # type: ignore[arg-type]
        assert (await store.get_claim(g.email)).guest_id == g.id  # type: ignore[union-attr]
    assert await store.stale_claims(T0 + timedelta(days=1), 10) == [replace(
        UNLINKED, etag=(await store.get_claim(UNLINKED.email)).etag)]  # type: ignore[union-attr]
    assert await store.due(IndexKind.EXPIRES, T0 + timedelta(days=3), 10) == [GUESTS[0].id, GUESTS[1].id,
                                                                              GUESTS[2].id]
    assert await store.due(IndexKind.DISABLED, FAR, 10) == [GUESTS[8].id]
    assert await store.pending_events(10) == EVENTS and await store.count_tracked() == 9
    assert [g.id for g in (await store.query(GuestQuery(email=GUESTS[4].email))).guests] == [GUESTS[4].id]

    again = await cli(monkeypatch, env, "migrate", "--apply")
    assert again.exit_code == 0 and "moved records 0, claims 0, index rows 0, outbox rows 0" in again.output
    assert await rows_of(client) == done


async def test_an_empty_table_gets_the_marker_and_the_app_runs(tables):
    store = TableGuestStore(tables)
    assert await store.get(GUESTS[0].id) is None
    marker = await layout.read_marker(await tables.table("guests"))
    assert marker is not None and marker["Version"] == 2 and marker["State"] == layout.DONE
    created = await store.create(GUESTS[0], LINKED[0], EVENTS[:1])
    assert await TableGuestStore(tables).get(GUESTS[0].id) == created


async def test_rows_it_does_not_know_stay_where_they_are_and_keep_the_table_refused(tables, env, monkeypatch):
    client = await seeded(tables)
    await client.create_entity({"PartitionKey": codec.OLD_PARTITION, "RowKey": "z_hand_made", "Note": "mine"})
    result = await cli(monkeypatch, env, "migrate", "--apply")
    assert result.exit_code == 1 and "z_hand_made" in result.output
    found = await rows_of(client)
    assert found[(codec.OLD_PARTITION, "z_hand_made")]["Note"] == "mine"
    assert [key for key in found if key[0] == codec.OLD_PARTITION] == [(codec.OLD_PARTITION, "z_hand_made")]
    with pytest.raises(ConfigurationError):
        await TableGuestStore(tables).get(GUESTS[0].id)


async def test_an_export_of_the_old_layout_imports_refused_until_migrated(tables, env, monkeypatch, tmp_path):
    await seeded(tables)
    exported = tmp_path / "old.jsonl"
    assert (await cli(monkeypatch, env, "export", "--output", str(exported))).exit_code == 0
    target = {**env, "LIFECYCLE_TABLE_PREFIX": "t" + uuid.uuid4().hex[:12]}
    imported = await cli(monkeypatch, target, "import", str(exported))
    assert imported.exit_code == 0, imported.output
    settings = Settings.from_env(target)
    fresh = LifecycleTables(build_service_client(settings, None), settings)
    try:
        client = await fresh.table("guests")
        assert (await layout.read_marker(client))["State"] == layout.MIGRATING  # type: ignore[index]
        with pytest.raises(ConfigurationError):
            await TableGuestStore(fresh).get(GUESTS[0].id)
        assert (await cli(monkeypatch, target, "migrate", "--apply")).exit_code == 0
        store = TableGuestStore(fresh)
        assert replace(await store.get(GUESTS[0].id), etag=None) == GUESTS[0]  # type: ignore[arg-type]
        assert (await store.get_claim(UNLINKED.email)).owner == "dead"  # type: ignore[union-attr]
    finally:
        await fresh.close()

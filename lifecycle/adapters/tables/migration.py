"""`python -m lifecycle migrate`: the guests table from layout 1 (every row in the partition `guests`) to layout 2
(the partitions `tables/codec.py` names, and the layout marker of `tables/layout.py`).

A dry run counts the rows it would move. `apply` first marks the table `migrating` (the app refuses it from then
on), then goes through the old partition a page at a time: it copies the page's rows to their new partitions
(upserts, in transactions of one partition), and only once every copy of the page is written deletes the page's old
rows (each guarded by the ETag it was read with: a row changed meanwhile is copied again by the next pass). It
passes over the old partition until a pass moves nothing, then marks the table `done`. A crash at any point loses
nothing: an old row is never deleted before its copy is written, and a rerun goes on with the rows left (a copy
written twice is the same row). The other tables (audit, runs, idempotency) keep their keys: they are not moved.
Rows of the old partition whose key it does not know are left where they are and reported; the table then stays
`migrating` until an operator removes them."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from lifecycle.adapters.tables import codec, layout
from lifecycle.adapters.tables.errors import storage_errors

PAGE_SIZE = 500  # old rows read, copied and deleted at a time
TRANSACTION_BYTES = 3 * 1024 * 1024  # under the 4 MiB a transaction's body may hold
KINDS = {codec.GUEST_PREFIX: "records", codec.CLAIM_PREFIX: "claims", codec.INDEX_PREFIX: "index rows",
         codec.OUTBOX_PREFIX: "outbox rows"}


@dataclass
class MigrationReport:
    applied: bool
    state: str  # the marker's state at the end: none, migrating or done
    rows: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KINDS.values()})
    unknown: list[str] = field(default_factory=list)  # RowKeys of old rows it cannot place (left in place)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_text(self) -> str:
        counts = ", ".join(f"{kind} {count}" for kind, count in self.rows.items())
        verb = "moved" if self.applied else "would move"
        lines = [f"migrate{'' if self.applied else ' (dry run)'}: {verb} {counts} to storage layout "
                 f"{layout.LAYOUT_VERSION}; layout marker: {self.state}"]
        if self.unknown:
            lines.append(f"{len(self.unknown)} rows of the old partition have keys it does not know and stay there "
                         f"(first: {', '.join(self.unknown[:5])}): remove or move them, then run it again")
        elif not self.applied and self.total:
            lines.append(f"run `{layout.MIGRATE_COMMAND}` to move them (stop the app first)")
        return "\n".join(lines)


def new_partition(entity: dict[str, Any]) -> str | None:
    """The partition an old row belongs in, in layout 2 (None: a key this version does not know)."""
    key = str(entity["RowKey"])
    if key.startswith(codec.GUEST_PREFIX):
        return codec.guest_partition(key[len(codec.GUEST_PREFIX):])
    if key.startswith(codec.CLAIM_PREFIX):
        return codec.claim_partition(codec.decode_key(key[len(codec.CLAIM_PREFIX):]))
    if key.startswith((codec.INDEX_PREFIX, codec.OUTBOX_PREFIX)) and entity.get("GuestId"):
        return codec.guest_partition(str(entity["GuestId"]))
    return None


def _kind(key: str) -> str:
    return KINDS[key[:2]]


async def table_exists(service: Any, name: str) -> bool:
    async for _ in service.query_tables("TableName eq @name", parameters={"name": name}):
        return True
    return False


class Migration:
    """Moves the rows of one guests table; `progress` hears a line after each page."""

    def __init__(self, client: TableClient, progress: Callable[[str], None] = lambda line: None) -> None:
        self._client = client
        self._progress = progress

    async def run(self, *, apply: bool) -> MigrationReport:
        async with storage_errors("migrate"):
            marker = await layout.read_marker(self._client)
            state = str(marker.get("State")) if marker else "none"
            if not apply:
                report = MigrationReport(False, state)
                async for page in self._old_pages():
                    self._count(report, page)
                return report
            report = MigrationReport(True, state)
            if state == layout.DONE and not await layout.has_old_rows(self._client):
                return report
            await layout.write_marker(self._client, layout.MIGRATING, "moving rows to the partitioned layout")
            report.state = layout.MIGRATING
            while await self._pass(report):
                pass
            if not report.unknown and not await layout.has_old_rows(self._client):
                await layout.write_marker(self._client, layout.DONE, "migrated from layout 1")
                report.state = layout.DONE
        return report

    async def _old_pages(self) -> AsyncIterator[list[Any]]:
        pages = self._client.query_entities("PartitionKey eq @pk", parameters={"pk": codec.OLD_PARTITION},
                                            results_per_page=PAGE_SIZE).by_page()
        async for page in pages:
            yield [row async for row in page]

    def _count(self, report: MigrationReport, page: list[Any]) -> int:
        """Counts the page's rows it knows into the report; notes the others. Returns how many it knows."""
        known = 0
        for row in page:
            if new_partition(row) is None:
                if row["RowKey"] not in report.unknown:
                    report.unknown.append(str(row["RowKey"]))
                continue
            report.rows[_kind(str(row["RowKey"]))] += 1
            known += 1
        return known

    async def _pass(self, report: MigrationReport) -> bool:
        """One pass over the old partition; True when it moved a row (another pass may find rows it could not)."""
        moved = False
        async for page in self._old_pages():
            rows = [row for row in page if new_partition(row) is not None]
            self._count(report, page)
            if not rows:
                continue
            await self._copy(rows)
            deleted = await self._delete(rows)
            for row in rows:
                if row["RowKey"] not in deleted:  # changed since it was read: counted again when copied again
                    report.rows[_kind(str(row["RowKey"]))] -= 1
            moved = moved or bool(deleted)
            self._progress(f"moved {len(deleted)} rows ({report.total} so far)")
        return moved

    async def _copy(self, rows: list[Any]) -> None:
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            partition = new_partition(row)
            assert partition is not None
            by_partition.setdefault(partition, []).append({**row, "PartitionKey": partition})
        for entities in by_partition.values():
            for chunk in _transactions(entities):
                if len(chunk) == 1:
                    await self._client.upsert_entity(chunk[0], mode=UpdateMode.REPLACE)
                else:
                    await self._client.submit_transaction(
                        [("upsert", entity, {"mode": UpdateMode.REPLACE}) for entity in chunk])

    async def _delete(self, rows: list[Any]) -> set[str]:
        """Deletes the old rows still as they were read; returns the RowKeys deleted (or already gone)."""
        deleted: set[str] = set()
        for chunk in _transactions(rows):
            try:
                await self._client.submit_transaction([("delete", row, _as_read(row)) for row in chunk])
                deleted.update(str(row["RowKey"]) for row in chunk)
                continue
            except TableTransactionError:
                pass  # a row changed or is gone: one at a time
            for row in chunk:
                try:
                    await self._client.delete_entity(codec.OLD_PARTITION, row["RowKey"], **_as_read(row))
                except ResourceModifiedError:
                    continue
                except ResourceNotFoundError:
                    pass
                deleted.add(str(row["RowKey"]))
        return deleted


def _as_read(row: Any) -> dict[str, Any]:
    return {"etag": codec.entity_etag(row), "match_condition": MatchConditions.IfNotModified}


def _transactions(rows: list[Any]) -> list[list[Any]]:
    """The rows in chunks one transaction holds: TRANSACTION_LIMIT operations, TRANSACTION_BYTES."""
    chunks: list[list[Any]] = []
    size = 0
    for row in rows:
        bytes_ = codec.operation_bytes(dict(row))
        if not chunks or len(chunks[-1]) >= codec.TRANSACTION_LIMIT or size + bytes_ > TRANSACTION_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += bytes_
    return chunks

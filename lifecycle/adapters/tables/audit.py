"""AuditLog on Table Storage: a partition per target. Entries are written under `r_<inverted time>_<random>`, so a
partition reads newest first page by page; entries written before that (`<time>_<random>`, oldest first) are read
after them, as the older part of the history."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.adapters.tables import codec, paging
from lifecycle.adapters.tables.client import LifecycleTables
from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.errors import InvalidRequest
from lifecycle.ports import AuditEntry, AuditPage, storable_details

NEWEST_FIRST = "r_"  # rows written by this version: newest first
_NEWEST_END = "r`"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = 10**18 - 1  # microseconds after 1970 the inverted key can hold (beyond the year 9999)


def inverted(moment: datetime) -> str:
    """A key part that sorts later instants first."""
    micros = (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{_LATEST - micros:018d}"


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(actor=row["Actor"], action=row["Action"], target=row["Target"], outcome=row["Outcome"],
                      at=codec._dt(row["At"]) or _EPOCH,
                      graph_request_ids=tuple(json.loads(row.get("GraphRequestIds") or "[]")),
                      details=json.loads(row.get("Details") or "{}"))


class TableAuditLog:
    """AuditLog on Table Storage: partition per target, rows newest first."""

    def __init__(self, tables: LifecycleTables) -> None:
        self._tables = tables

    async def record(self, entry: AuditEntry) -> None:
        client = await self._tables.table("audit")
        entity = {
            "PartitionKey": codec.encode_key(entry.target),
            "RowKey": f"{NEWEST_FIRST}{inverted(entry.at)}_{uuid.uuid4().hex}",
            "Actor": entry.actor, "Action": entry.action, "Target": entry.target, "Outcome": entry.outcome,
            "At": entry.at, "GraphRequestIds": json.dumps(list(entry.graph_request_ids)),
            "Details": json.dumps(storable_details(entry.details)),
        }
        async with storage_errors("audit"):
            await client.create_entity(entity)

    async def entries_for(self, target: str) -> list[AuditEntry]:
        client = await self._tables.table("audit")
        async with storage_errors("audit"):
            rows = [row async for row in client.query_entities(
                "PartitionKey eq @pk", parameters={"pk": codec.encode_key(target)})]
        return sorted((_entry(row) for row in rows), key=lambda e: e.at)

    async def history(self, target: str, page_size: int, continuation_token: str | None = None) -> AuditPage:
        state = paging.decode(continuation_token) or {"phase": "new"}
        if state.get("phase") not in ("new", "old") or not isinstance(state.get("offset", 0), int):
            raise InvalidRequest("continuationToken is not valid")
        client = await self._tables.table("audit")
        key = codec.encode_key(target)
        entries: list[AuditEntry] = []
        async with storage_errors("audit"):
            if state["phase"] == "new":
                rows, following = await paging.page(
                    client, "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    {"pk": key, "lo": NEWEST_FIRST, "hi": _NEWEST_END}, page_size, paging.sdk_token(state.get("t")))
                entries = [_entry(row) for row in rows]
                if following:
                    return AuditPage(entries, paging.encode({"phase": "new", "t": following}))
                state = {"phase": "old", "offset": 0}
            older = await self._older(client, key)
        offset, room = int(state["offset"]), page_size - len(entries)
        entries += older[offset:offset + room]
        end = offset + max(room, 0)
        return AuditPage(entries, paging.encode({"phase": "old", "offset": end}) if end < len(older) else None)

    @staticmethod
    async def _older(client: Any, key: str) -> list[AuditEntry]:
        """The entries written before rows were kept newest first, newest first."""
        rows = [row async for row in client.query_entities(
            "PartitionKey eq @pk and RowKey lt @hi", parameters={"pk": key, "hi": NEWEST_FIRST})]
        return sorted((_entry(row) for row in rows), key=lambda e: e.at, reverse=True)

"""Export and import of the app's tables as JSON lines: `python -m lifecycle export` and `import`.

An export is a header line, one line per stored row, and an end line:

    {"export": "guest-lifecycle", "format": 1, "appVersion": "1.0.0", "recordFormat": 2, "exportedAt": "..."}
    {"table": "guests", "entity": {"PartitionKey": "guests-3", "RowKey": "e_...", "ClaimedAt": "2026-...Z",
                                   "ClaimedAt@odata.type": "Edm.DateTime", ...}}
    {"end": true}

The tables are EXPORTED_TABLES, each when it exists (`runs` is made by the versions that record past sweeps); the
idempotency keys are not exported (they live 24 hours). Every row of a table is copied as stored, keys and all (guest
records, email claims, index rows, events still in the outbox; audit entries; runs), each property in Table Storage's
own JSON form: a value, with `<name>@odata.type` for the types JSON does not tell apart (dates, 64-bit integers,
doubles, GUIDs, binary).

Export streams: one page of rows (PAGE_SIZE) is in memory at a time. After each page it hands out a continuation
point (Continuation: the table, the page after, the bytes written so far); an export started from one goes on from
there. Import streams too, in transactions of at most 100 rows of one partition, each row an upsert (a row imported
twice is imported once). It goes only into an empty deployment unless told otherwise (a guests table holding only
its layout marker is empty).

Rows keep their keys, so an export of the partitioned layout (layout 2, its `meta` layout marker included) imports as
it was. An export made before that layout (every guests row in the partition `guests`) imports as layout 1: the
import marks the guests table `migrating`, and the app refuses it until `python -m lifecycle migrate --apply` has
moved the rows (docs/operate.md)."""
from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from uuid import UUID

from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from lifecycle import __version__
from lifecycle.adapters.tables import codec, layout
from lifecycle.adapters.tables.client import LifecycleTables
from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.config import Settings
from lifecycle.errors import Conflict, InvalidRequest

EXPORT_NAME = "guest-lifecycle"
EXPORT_FORMAT = 1
"""The layout of an export file (header, rows, end line). An import refuses a file of a newer layout."""
EXPORTED_TABLES = ("guests", "audit", "runs")
"""The tables an export holds, in this order, each when it exists: <prefix>guests, <prefix>audit, <prefix>runs."""
PAGE_SIZE = 1000  # rows a page of Table Storage holds at most
TRANSACTION_ROWS = codec.TRANSACTION_LIMIT
TRANSACTION_BYTES = 3 * 1024 * 1024  # under the 4 MiB a transaction's body may hold
TYPE_SUFFIX = "@odata.type"


class NotEmpty(Conflict):
    """The deployment an import was asked to fill already holds rows."""

    code = "NotEmpty"


class BadExport(InvalidRequest):
    """The file is not an export this version can import."""

    code = "BadExport"


# --- continuation points ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Continuation:
    """Where an export goes on: `table` from the page `page` (None: its first), `offset` bytes already written."""

    table: str
    page: dict[str, str | None] | None
    offset: int

    def encode(self) -> str:
        text = json.dumps({"table": self.table, "page": self.page, "offset": self.offset}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Continuation:
        try:
            value = json.loads(base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4)))
            point = cls(str(value["table"]), value["page"], int(value["offset"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InvalidRequest("the continuation point is not one an export printed") from None
        page_ok = point.page is None or (isinstance(point.page, dict)  # storage may name the partition alone
                                         and all(v is None or isinstance(v, str) for v in point.page.values()))
        if point.table not in EXPORTED_TABLES or not page_ok or point.offset < 0:
            raise InvalidRequest("the continuation point is not one an export printed")
        return point


# --- the JSON form of a row ---------------------------------------------------------------------------------------
def _utc_text(moment: datetime) -> str:
    service_value = getattr(moment, "tables_service_value", None)  # the stored text, all seven decimals
    if service_value:
        return str(service_value)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entity_to_json(entity: dict[str, Any]) -> dict[str, Any]:
    """A stored row in Table Storage's JSON form (its ETag and Timestamp left out: the target sets its own)."""
    out: dict[str, Any] = {}
    for name, value in entity.items():
        kind: EdmType | None = None
        if isinstance(value, EntityProperty):
            value, kind = value.value, EdmType(value.edm_type)
        if isinstance(value, bool) or kind == EdmType.BOOLEAN:
            out[name] = bool(value)
            continue
        if isinstance(value, datetime):
            value, kind = _utc_text(value), EdmType.DATETIME
        elif isinstance(value, (bytes, bytearray)):
            value, kind = base64.b64encode(bytes(value)).decode(), EdmType.BINARY
        elif isinstance(value, UUID):
            value, kind = str(value), EdmType.GUID
        elif isinstance(value, float):
            kind = EdmType.DOUBLE
            if math.isnan(value) or math.isinf(value):  # JSON has no such numbers; storage's text for them
                value = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        elif isinstance(value, int) and kind == EdmType.INT64:
            value = str(value)
        out[name] = value
        if kind is not None and kind not in (EdmType.STRING, EdmType.INT32):
            out[name + TYPE_SUFFIX] = kind.value
    return out


def json_to_entity(row: dict[str, Any]) -> dict[str, Any]:
    """The row to write, typed as it was stored."""
    entity: dict[str, Any] = {}
    for name, value in row.items():
        if name.endswith(TYPE_SUFFIX):
            continue
        kind = row.get(name + TYPE_SUFFIX)
        if kind is None:
            entity[name] = value
            continue
        edm = EdmType(kind)
        if edm == EdmType.BINARY:
            entity[name] = EntityProperty(base64.b64decode(value), edm)
        else:  # dates, numbers and GUIDs go to storage as the text they were read as
            entity[name] = EntityProperty(value, edm)
    if not isinstance(entity.get("PartitionKey"), str) or not isinstance(entity.get("RowKey"), str):
        raise BadExport("a row without PartitionKey and RowKey")
    return entity


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- export -------------------------------------------------------------------------------------------------------
class TableExport:
    """Streams the app's tables to a binary file, page by page."""

    def __init__(self, service: TableServiceClient, settings: Settings, *, page_size: int = PAGE_SIZE) -> None:
        self._service = service
        self._settings = settings
        self._page_size = page_size

    async def existing(self) -> list[str]:
        """The exported tables that exist (none is created)."""
        found = []
        async with storage_errors("list tables"):
            for kind in EXPORTED_TABLES:
                name = self._settings.table_name(kind)
                async for _ in self._service.query_tables("TableName eq @name", parameters={"name": name}):
                    found.append(kind)
                    break
        return found

    async def write(self, out: IO[bytes], *, start: Continuation | None = None,
                    progress: Callable[[Continuation], None] = lambda point: None) -> dict[str, int]:
        """Write the export (from `start` on: no header then, the bytes before it are already written); `progress`
        gets a continuation point after each page. Returns the rows written per table."""
        offset = start.offset if start else 0

        def emit(value: dict[str, Any]) -> None:
            nonlocal offset
            data = _line(value)
            out.write(data)
            offset += len(data)

        tables = await self.existing()
        if start is None:
            emit({"export": EXPORT_NAME, "format": EXPORT_FORMAT, "appVersion": __version__,
                  "recordFormat": codec.RECORD_FORMAT, "tablePrefix": self._settings.table_prefix,
                  "tables": tables, "exportedAt": datetime.now(UTC).isoformat()})
            out.flush()
            if tables:
                progress(Continuation(tables[0], None, offset))
        first = EXPORTED_TABLES.index(start.table) if start else 0
        counts: dict[str, int] = {}
        for kind in EXPORTED_TABLES[first:]:
            page = start.page if start and kind == start.table else None
            if kind not in tables:
                continue
            counts[kind] = 0
            client = self._service.get_table_client(self._settings.table_name(kind))
            async for rows, after in self._pages(client, page):
                for row in rows:
                    emit({"table": kind, "entity": entity_to_json(row)})
                counts[kind] += len(rows)
                out.flush()
                if after is not None:
                    progress(Continuation(kind, after, offset))
            await client.close()
            following = [k for k in EXPORTED_TABLES[EXPORTED_TABLES.index(kind) + 1:] if k in tables]
            if following:
                progress(Continuation(following[0], None, offset))
        emit({"end": True})
        out.flush()
        return counts

    async def _pages(self, client: TableClient, page: dict[str, str | None] | None,
                     ) -> AsyncIterator[tuple[list[Any], dict[str, str | None] | None]]:
        """The table's rows a page at a time, each with the token of the page after it (None after the last)."""
        async with storage_errors(f"export {client.table_name}"):
            pages = client.list_entities(results_per_page=self._page_size).by_page(
                continuation_token=page)  # type: ignore[arg-type]  # the table SDK's token is a dict
            async for rows in pages:
                batch = [row async for row in rows]
                yield batch, pages.continuation_token or None  # type: ignore[attr-defined]


# --- import -------------------------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    rows: dict[str, int] = field(default_factory=dict)
    complete: bool = False  # the file ended with the export's end line


class TableImport:
    """Writes an export into the app's tables."""

    def __init__(self, service: TableServiceClient, settings: Settings) -> None:
        self._service = service
        self._settings = settings
        self._tables = LifecycleTables(service, settings)

    async def holding_rows(self) -> list[str]:
        """The exported tables that exist and hold at least one row."""
        holding = []
        for kind in await TableExport(self._service, self._settings).existing():
            client = self._service.get_table_client(self._settings.table_name(kind))
            async with storage_errors(f"read {client.table_name}"):
                async for _ in client.query_entities("PartitionKey ne @meta", parameters={"meta": codec.META_PARTITION},
                                                     results_per_page=1, select=["PartitionKey"]):
                    holding.append(kind)
                    break
            await client.close()
        return holding

    async def ensure_empty(self) -> None:
        holding = await self.holding_rows()
        if holding:
            names = ", ".join(self._settings.table_name(kind) for kind in holding)
            raise NotEmpty(f"the deployment already holds rows ({names}): import into an empty deployment, or pass "
                           "--into-non-empty to merge (a row with the same keys is replaced)")

    async def load(self, lines: Iterable[bytes | str]) -> ImportReport:
        report = ImportReport()
        batch: list[dict[str, Any]] = []
        batch_key: tuple[str, str] | None = None
        batch_bytes = 0
        started = old_layout = False
        for number, raw in enumerate(lines, 1):
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                raise BadExport(f"line {number} is not JSON") from None
            if not started:
                self._check_header(value)
                started = True
                continue
            if value.get("end") is True:
                report.complete = True
                break
            kind, row = value.get("table"), value.get("entity")
            if kind not in EXPORTED_TABLES or not isinstance(row, dict):
                raise BadExport(f"line {number} is not a row of {', '.join(EXPORTED_TABLES)}")
            entity = json_to_entity(row)
            if kind == "guests" and str(entity["RowKey"]).startswith((codec.GUEST_PREFIX, codec.CLAIM_PREFIX)):
                codec.check_format(row, "row", str(entity["RowKey"]))
            if kind == "guests" and entity["PartitionKey"] == codec.OLD_PARTITION and not old_layout:
                old_layout = True
                await self._mark_old_layout()
            key = (kind, entity["PartitionKey"])
            size = codec.operation_bytes(row)
            if batch and (key != batch_key or len(batch) >= TRANSACTION_ROWS or batch_bytes + size > TRANSACTION_BYTES):
                await self._write(batch_key, batch)  # type: ignore[arg-type]
                batch, batch_bytes = [], 0
            batch.append(entity)
            batch_key, batch_bytes = key, batch_bytes + size
            report.rows[kind] = report.rows.get(kind, 0) + 1
        if not started:
            raise BadExport("the file is empty: no export header")
        if batch:
            await self._write(batch_key, batch)  # type: ignore[arg-type]
        return report

    @staticmethod
    def _check_header(value: Any) -> None:
        if not isinstance(value, dict) or value.get("export") != EXPORT_NAME:
            raise BadExport("the file does not start with the header of a Guest Lifecycle export")
        if not isinstance(value.get("format"), int) or value["format"] > EXPORT_FORMAT:
            raise BadExport(f"the export's layout ({value.get('format')}) is newer than this version reads "
                            f"({EXPORT_FORMAT}): import it with version {value.get('appVersion')} or later")
        if not isinstance(value.get("recordFormat"), int) or value["recordFormat"] > codec.RECORD_FORMAT:
            raise BadExport(f"the export holds records of format {value.get('recordFormat')}, newer than this "
                            f"version ({__version__}) reads ({codec.RECORD_FORMAT}): import it with version "
                            f"{value.get('appVersion')} or later")

    async def _mark_old_layout(self) -> None:
        """Rows of layout 1 are coming: the app must refuse the table until they are migrated (marked before the
        first of them is written, so a crash in between leaves the table refused)."""
        client = await self._table("guests")
        async with storage_errors(f"import into {client.table_name}"):
            await layout.write_marker(client, layout.MIGRATING, "rows of layout 1 imported")

    async def _table(self, kind: str) -> TableClient:
        return await self._tables.table(kind)

    async def _write(self, key: tuple[str, str], entities: list[dict[str, Any]]) -> None:
        client = await self._table(key[0])
        async with storage_errors(f"import into {client.table_name}"):
            if len(entities) == 1:
                await client.upsert_entity(entities[0], mode=UpdateMode.REPLACE)
            else:
                await client.submit_transaction([("upsert", entity, {"mode": UpdateMode.REPLACE})
                                                 for entity in entities])

    async def close(self) -> None:
        """Close the tables' clients; the service client is the caller's."""
        await self._tables.close_tables()

"""The layout marker of the guests table: which key scheme its rows follow, checked before the app uses them.

The marker is one row, `meta` / `layout` (LAYOUT_VERSION 2, State `done` or `migrating`). The app runs only on layout 2
done: the first use of the guest store in a worker reads the marker once (one point read, then cached) and refuses,
with a LayoutNotReady (503) naming `python -m lifecycle migrate --apply`, a table whose rows are in layout 1 (the one
partition `guests`) or whose migration is under way. An empty table (a new deployment) gets the marker written then.
"""
from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from lifecycle.adapters.tables import codec
from lifecycle.errors import ConfigurationError

LAYOUT_VERSION = 2
LAYOUT_ROW = "layout"
DONE = "done"
MIGRATING = "migrating"
MIGRATE_COMMAND = "python -m lifecycle migrate --apply"


class LayoutNotReady(ConfigurationError):
    """The guests table is not in the layout this version reads: its rows must be migrated first."""

    code = "StorageLayoutNotReady"


def marker(state: str, note: str = "") -> dict[str, Any]:
    return {"PartitionKey": codec.META_PARTITION, "RowKey": LAYOUT_ROW, "Version": LAYOUT_VERSION, "State": state,
            "Note": note}


async def read_marker(client: TableClient) -> dict[str, Any] | None:
    try:
        return dict(await client.get_entity(codec.META_PARTITION, LAYOUT_ROW))
    except ResourceNotFoundError:
        return None


async def write_marker(client: TableClient, state: str, note: str = "") -> None:
    await client.upsert_entity(marker(state, note), mode=UpdateMode.REPLACE)


async def has_old_rows(client: TableClient) -> bool:
    """Whether any row is left in layout 1's partition."""
    async for _ in client.query_entities("PartitionKey eq @pk", parameters={"pk": codec.OLD_PARTITION},
                                         select=["RowKey"], results_per_page=1):
        return True
    return False


def refusal(entity: dict[str, Any] | None, table: str) -> LayoutNotReady | None:
    """Why the app must not use the table with this marker (None: it may)."""
    if entity is not None and entity.get("Version") == LAYOUT_VERSION and entity.get("State") == DONE:
        return None
    if entity is not None and isinstance(entity.get("Version"), int) and entity["Version"] > LAYOUT_VERSION:
        return LayoutNotReady(f"the table {table} is in storage layout {entity['Version']}, written by a newer version "
                              f"of Guest Lifecycle; this version reads layout {LAYOUT_VERSION}: deploy the newer "
                              "version again")
    if entity is not None and entity.get("State") == MIGRATING:
        return LayoutNotReady(f"the migration of the table {table} to storage layout {LAYOUT_VERSION} is under way or "
                              f"was interrupted: run `{MIGRATE_COMMAND}` to finish it, then the app runs again")
    return LayoutNotReady(f"the table {table} holds rows in the old storage layout (one partition): run "
                          f"`{MIGRATE_COMMAND}` to move them to layout {LAYOUT_VERSION} (docs/operate.md, Upgrading)")


class LayoutCheck:
    """Checks the table's marker once per worker (a success is cached; a refusal is checked again on the next use,
    so the app runs as soon as the migration is done)."""

    def __init__(self) -> None:
        self._ready = False
        self._checking: asyncio.Lock | None = None

    async def ensure(self, client: TableClient) -> None:
        """Returns when the table is in layout 2 (writing the marker into an empty table); raises LayoutNotReady
        otherwise. Storage SDK errors are raised untranslated (the caller translates)."""
        if self._ready:
            return
        self._checking = self._checking or asyncio.Lock()
        async with self._checking:
            if self._ready:
                return
            entity = await read_marker(client)
            if entity is None and not await has_old_rows(client):
                try:
                    await client.create_entity(marker(DONE, "new table"))
                except ResourceExistsError:
                    pass
                entity = await read_marker(client)
            problem = refusal(entity, client.table_name)
            if problem is not None:
                raise problem
            self._ready = True

"""IdempotencyStore on Table Storage: one row a key, in a partition by the first hex digits of the key's hash."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import UpdateMode

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.client import LifecycleTables
from lifecycle.adapters.tables.errors import lost_race, storage_errors
from lifecycle.ports import IdempotencyRecord


class TableIdempotencyStore:
    """IdempotencyStore on Table Storage: partition by the first hex digits of the key's hash."""

    def __init__(self, tables: LifecycleTables) -> None:
        self._tables = tables

    @staticmethod
    def _keys(key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return digest[:2], digest

    def _entity(self, record: IdempotencyRecord) -> dict[str, Any]:
        partition, row = self._keys(record.key)
        return {"PartitionKey": partition, "RowKey": row, "Status": record.status, "Fingerprint": record.fingerprint,
                "ExpiresAt": record.expires_at, "StartedAt": record.started_at,
                "ResponseStatus": record.response_status, "ResponseHeaders": json.dumps(record.response_headers),
                "ResponseBody": record.response_body}

    @staticmethod
    def _record(key: str, entity: Any) -> IdempotencyRecord:
        return IdempotencyRecord(
            key=key, fingerprint=entity["Fingerprint"], status=entity["Status"],
            expires_at=codec._dt(entity["ExpiresAt"]), started_at=codec._dt(entity["StartedAt"]),  # type: ignore
            response_status=entity.get("ResponseStatus", 0),
            response_headers=json.loads(entity.get("ResponseHeaders") or "{}"),
            response_body=entity.get("ResponseBody", ""), etag=entity.metadata.get("etag"))

    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        client = await self._tables.table("idempotency")
        async with storage_errors("idempotency claim"):
            try:
                result = await client.create_entity(self._entity(record))
                return replace(record, etag=result.get("etag")), True
            except ResourceExistsError:
                pass
            entity = await client.get_entity(*self._keys(record.key))
        return self._record(record.key, entity), False

    async def replace(self, record: IdempotencyRecord) -> IdempotencyRecord:
        client = await self._tables.table("idempotency")
        async with storage_errors("idempotency update"), lost_race("idempotency update"):
            result = await client.update_entity(self._entity(record), mode=UpdateMode.REPLACE, etag=record.etag,
                                                match_condition=MatchConditions.IfNotModified)
        return replace(record, etag=result.get("etag"))

    async def release(self, record: IdempotencyRecord) -> None:
        client = await self._tables.table("idempotency")
        partition, row = self._keys(record.key)
        async with storage_errors("idempotency release"):
            if record.etag:
                await client.delete_entity(partition, row, etag=record.etag,
                                           match_condition=MatchConditions.IfNotModified)
            else:
                await client.delete_entity(partition, row)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        client = await self._tables.table("idempotency")
        removed = 0
        async with storage_errors("idempotency purge"):
            async for entity in client.query_entities("ExpiresAt lt @now", parameters={"now": now},
                                                      select=["PartitionKey", "RowKey"]):
                await client.delete_entity(entity["PartitionKey"], entity["RowKey"])
                removed += 1
                if removed >= limit:
                    break
        return removed

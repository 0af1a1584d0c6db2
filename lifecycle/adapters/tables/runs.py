"""RunStore on Table Storage, in the table `<prefix>runs`:

  runs / <inverted start>_<runId>       a run's header and report, newest first
  lines_<runId> / 00000, 00001, ...     its per-guest lines, JSON arrays of at most CHUNK_CHARS characters a row
  plans / <planId>                      a plan's header (and its approval)
  actions_<planId> / 00000, ...         its actions, chunked the same way

Run and plan ids begin with the time they were made, so the line partitions of old runs sort first."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from lifecycle.adapters.tables import codec, paging
from lifecycle.adapters.tables.audit import inverted
from lifecycle.adapters.tables.client import LifecycleTables
from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.domain.runs import id_time
from lifecycle.ports import RunPage, RunRecord, StoredPlan, storable_details

RUNS, PLANS = "runs", "plans"
TABLE = "runs"


def _run_key(run_id: str, started: datetime) -> str:
    return f"{inverted(started)}_{run_id}"


def _dt(value: Any) -> datetime | None:
    return codec._dt(value)


class TableRunStore:
    def __init__(self, tables: LifecycleTables) -> None:
        self._tables = tables

    async def _client(self) -> Any:
        return await self._tables.table(TABLE)

    # --- runs ------------------------------------------------------------------------------------
    async def save_run(self, run: RunRecord) -> None:
        client = await self._client()
        rows = await self._write_chunks(client, f"lines_{run.run_id}", "Lines", run.lines)
        header = {"PartitionKey": RUNS, "RowKey": _run_key(run.run_id, run.started_at), "RunId": run.run_id,
                  "Trigger": run.trigger, "StartedAt": run.started_at, "FinishedAt": run.finished_at,
                  "DryRun": run.dry_run, "Outcome": run.outcome, "Actor": run.actor[:1000],
                  "Report": json.dumps(storable_details(run.report)), "LineRows": rows}
        async with storage_errors("save run"):
            await client.upsert_entity(header, mode=UpdateMode.REPLACE)

    async def runs(self, page_size: int, continuation_token: str | None = None) -> RunPage:
        state = paging.decode(continuation_token) or {}
        client = await self._client()
        async with storage_errors("runs"):
            rows, following = await paging.page(client, "PartitionKey eq @pk", {"pk": RUNS}, page_size,
                                                paging.sdk_token(state.get("t")))
        return RunPage([_run(row) for row in rows], paging.encode({"t": following}) if following else None)

    async def get_run(self, run_id: str) -> RunRecord | None:
        started = id_time(run_id)
        if started is None:
            return None
        client = await self._client()
        async with storage_errors("run"):
            rows = [row async for row in client.query_entities(
                "PartitionKey eq @pk and RowKey eq @rk", parameters={"pk": RUNS, "rk": _run_key(run_id, started)})]
        if not rows:
            return None
        lines = await self._read_chunks(client, f"lines_{run_id}", "Lines", int(rows[0].get("LineRows") or 0))
        return replace(_run(rows[0]), lines=tuple(lines))

    # --- plans -----------------------------------------------------------------------------------
    async def save_plan(self, plan: StoredPlan) -> StoredPlan:
        client = await self._client()
        rows = await self._write_chunks(client, f"actions_{plan.plan_id}", "Actions", plan.actions)
        header = {**_plan_entity(plan), "ActionRows": rows}
        async with storage_errors("save plan"):
            result = await client.create_entity(header)
        return replace(plan, etag=result.get("etag"))

    async def get_plan(self, plan_id: str) -> StoredPlan | None:
        if id_time(plan_id) is None:
            return None
        client = await self._client()
        async with storage_errors("plan"):
            rows = [row async for row in client.query_entities(
                "PartitionKey eq @pk and RowKey eq @rk", parameters={"pk": PLANS, "rk": plan_id})]
        if not rows:
            return None
        actions = await self._read_chunks(client, f"actions_{plan_id}", "Actions", int(rows[0].get("ActionRows") or 0))
        return _plan(rows[0], actions)

    async def mark_approved(self, plan: StoredPlan) -> StoredPlan:
        client = await self._client()
        entity = {**_plan_entity(plan), "ActionRows": len(paging.chunks(plan.actions))}
        async with storage_errors("approve plan"):
            result = await client.update_entity(entity, mode=UpdateMode.MERGE, etag=plan.etag,
                                                match_condition=MatchConditions.IfNotModified)
        return replace(plan, etag=result.get("etag"))

    # --- retention -------------------------------------------------------------------------------
    async def purge(self, runs_before: datetime, plans_before: datetime, limit: int) -> int:
        client = await self._client()
        removed = 0
        async with storage_errors("purge runs"):
            old_runs = client.query_entities("PartitionKey eq @pk and RowKey ge @lo",
                                             parameters={"pk": RUNS, "lo": f"{inverted(runs_before)}~"},
                                             select=["PartitionKey", "RowKey", "RunId"])
            async for row in old_runs:
                if removed >= limit:
                    return removed
                await self._delete_partition(client, f"lines_{row['RunId']}")
                await client.delete_entity(RUNS, row["RowKey"])
                removed += 1
            old_plans = client.query_entities("PartitionKey eq @pk and RowKey lt @hi",
                                              parameters={"pk": PLANS, "hi": codec.stamp(plans_before)},
                                              select=["PartitionKey", "RowKey"])
            async for row in old_plans:
                if removed >= limit:
                    return removed
                await self._delete_partition(client, f"actions_{row['RowKey']}")
                await client.delete_entity(PLANS, row["RowKey"])
                removed += 1
        return removed

    # --- chunked rows ----------------------------------------------------------------------------
    @staticmethod
    async def _write_chunks(client: Any, partition: str, column: str, items: Sequence[Any]) -> int:
        texts = paging.chunks(items)
        operations = [("upsert", {"PartitionKey": partition, "RowKey": f"{n:05d}", column: text},
                       {"mode": UpdateMode.REPLACE})
                      for n, text in enumerate(texts)]
        async with storage_errors("save lines"):
            for start in range(0, len(operations), paging.ROWS_PER_TRANSACTION):
                await client.submit_transaction(operations[start:start + paging.ROWS_PER_TRANSACTION])
        return len(texts)

    @staticmethod
    async def _read_chunks(client: Any, partition: str, column: str, rows: int) -> list[Any]:
        if rows <= 0:
            return []
        async with storage_errors("read lines"):
            found = [row async for row in client.query_entities(
                "PartitionKey eq @pk and RowKey lt @hi", parameters={"pk": partition, "hi": f"{rows:05d}"})]
        found.sort(key=lambda row: row["RowKey"])
        return paging.unchunk([row[column] for row in found])

    @staticmethod
    async def _delete_partition(client: Any, partition: str) -> None:
        keys = [row["RowKey"] async for row in client.query_entities(
            "PartitionKey eq @pk", parameters={"pk": partition}, select=["RowKey"])]
        for start in range(0, len(keys), codec.TRANSACTION_LIMIT):
            await client.submit_transaction([("delete", {"PartitionKey": partition, "RowKey": key})
                                             for key in keys[start:start + codec.TRANSACTION_LIMIT]])


def _run(row: Any) -> RunRecord:
    return RunRecord(run_id=row["RunId"], trigger=row.get("Trigger", ""), started_at=_dt(row["StartedAt"]),  # type: ignore[arg-type]
                     finished_at=_dt(row.get("FinishedAt")) or _dt(row["StartedAt"]),  # type: ignore[arg-type]
                     dry_run=bool(row.get("DryRun")), outcome=row.get("Outcome", ""), actor=row.get("Actor", ""),
                     report=json.loads(row.get("Report") or "{}"))


def _plan_entity(plan: StoredPlan) -> dict[str, Any]:
    entity = {"PartitionKey": PLANS, "RowKey": plan.plan_id, "CreatedAt": plan.created_at,
              "CreatedBy": plan.created_by[:1000], "Summary": json.dumps(storable_details(plan.summary)),
              "ApprovedBy": plan.approved_by[:1000], "ApprovedAt": plan.approved_at, "Reason": plan.reason[:2000],
              "RunId": plan.run_id}
    return {key: value for key, value in entity.items() if value is not None}


def _plan(row: Any, actions: list[Any]) -> StoredPlan:
    return StoredPlan(plan_id=row["RowKey"], created_at=_dt(row["CreatedAt"]),  # type: ignore[arg-type]
                      created_by=row.get("CreatedBy", ""), summary=json.loads(row.get("Summary") or "{}"),
                      actions=tuple(actions), approved_by=row.get("ApprovedBy", ""),
                      approved_at=_dt(row.get("ApprovedAt")), reason=row.get("Reason", ""),
                      run_id=row.get("RunId", ""), etag=row.metadata.get("etag"))

"""GuestStore on Azure Table Storage (azure-data-tables, async). Storage SDK exceptions never leave it: every call runs
inside `errors.storage_errors`."""
from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from lifecycle.adapters.tables import codec, fanout
from lifecycle.adapters.tables.client import LifecycleTables
from lifecycle.adapters.tables.errors import lost_race, storage_errors, within_limits
from lifecycle.adapters.tables.group_commit import GroupCommit
from lifecycle.adapters.tables.layout import LayoutCheck
from lifecycle.domain.model import TRACKED_STATES, EmailClaim, Guest, IndexKind
from lifecycle.errors import (
    ConcurrencyConflict,
    LifecycleError,
    UnreadableRecord,
)
from lifecycle.ports import Event, GuestQuery, OnRecordPage, Page

TRANSACTION_LIMIT = codec.TRANSACTION_LIMIT
_UNREADABLE = (KeyError, TypeError, ValueError, OverflowError)  # what decoding a damaged row raises


def _decoded(entity: dict[str, Any]) -> Guest:
    """The record a stored row holds; UnreadableRecord naming it when the row cannot be read (RecordFormatTooNew when
    a newer version wrote it)."""
    try:
        return codec.entity_to_guest(entity)
    except _UNREADABLE as exc:
        name = str(entity.get("Id") or entity.get("RowKey"))
        reason = f"{type(exc).__name__}: {exc}"[:500]
        raise UnreadableRecord(f"the stored record of guest '{name}' cannot be read ({reason}); an operator must "
                               "repair or remove its row in the guests table", details=[{"guestId": name,
                                                                                         "reason": reason}]) from None


class TableGuestStore:
    """GuestStore on Azure Table Storage, its rows spread over the partitions `tables/codec.py` names. Concurrent
    creates and saves of one partition share transactions (GroupCommit): each caller's outcome is the one it would have
    alone. The first use in a worker checks the table's layout (`tables/layout.py`) and refuses one not migrated."""

    KNOWN_ROWS_LIMIT = 20_000
    TRANSACTIONS_IN_FLIGHT = 1  # per partition: transactions of different partitions run at the same time

    def __init__(self, tables: LifecycleTables) -> None:
        self._tables = tables
        self._known_rows: dict[str, tuple[str | None, set[str]]] = {}  # guest id -> (etag, its index rows)
        self._commits = GroupCommit(self._transact, send_one=self._send_one,
                                    max_in_flight=self.TRANSACTIONS_IN_FLIGHT)
        self._layout = LayoutCheck()

    def _remember(self, guest_id: str, etag: str | None, rows: set[str]) -> None:
        if len(self._known_rows) >= self.KNOWN_ROWS_LIMIT:
            self._known_rows.clear()
        self._known_rows[guest_id] = (etag, rows)

    async def _stored_rows(self, guest: Guest) -> set[str]:
        """The index rows of the stored version the caller read (known without a read when this store saw it)."""
        known = self._known_rows.get(guest.id)
        if known is not None and known[0] == guest.etag:
            return known[1]
        stored = await self._get_entity(codec.guest_partition(guest.id), codec.guest_key(guest.id))
        if stored is None or codec.entity_etag(stored) != guest.etag:
            raise ConcurrencyConflict("the guest was changed by another request; retry")
        return codec.stored_index_rows(stored)

    async def _client(self) -> TableClient:
        """The guests table, once its layout was found to be the one this version reads."""
        client = await self._tables.table("guests")
        async with storage_errors("read the storage layout"):
            await self._layout.ensure(client)
        return client

    async def ping(self) -> None:
        client = await self._client()
        async with storage_errors("ping"):
            async for _ in client.query_entities("PartitionKey eq 'ping'", results_per_page=1):
                break

    async def _get_entity(self, partition: str, row_key: str) -> dict[str, Any] | None:
        client = await self._client()
        async with storage_errors("read"):
            try:
                return await client.get_entity(partition, row_key)
            except ResourceNotFoundError:
                return None

    async def get(self, guest_id: str) -> Guest | None:
        entity = await self._get_entity(codec.guest_partition(guest_id), codec.guest_key(guest_id))
        if entity is None:
            return None
        guest = _decoded(entity)
        self._remember(guest.id, guest.etag, codec.stored_index_rows(entity))
        return guest

    async def get_claim(self, email: str) -> EmailClaim | None:
        entity = await self._get_entity(codec.claim_partition(email), codec.claim_key(email))
        return codec.entity_to_claim(entity) if entity else None

    async def claim_email(self, claim: EmailClaim) -> EmailClaim:
        """Claims go through the partition's group commit like records: many claims at once (adoption) share
        transactions; a claim alone is one insert."""
        etag = await self._submit("claim email", [("create", codec.claim_to_entity(claim))])
        return replace(claim, etag=etag)

    async def take_over_claim(self, claim: EmailClaim) -> EmailClaim:
        etag = await self._submit("take over claim", [("update", codec.claim_to_entity(claim), _guarded(claim.etag))])
        return replace(claim, etag=etag)

    async def release_claim(self, claim: EmailClaim) -> None:
        client = await self._client()
        async with storage_errors("release claim"):
            await client.delete_entity(codec.claim_partition(claim.email), codec.claim_key(claim.email),
                                       etag=claim.etag, match_condition=MatchConditions.IfNotModified)

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        """The claim is held first (a new one inserted unlinked, one read from storage checked against its ETag),
        then the record is written with its index rows and events in its partition's transaction, then the claim is
        linked under its ETag. A crash before the link leaves the claim unlinked: it turns stale, and its next
        holder's `create` of the same id links it (`_recovered`)."""
        _own_events(guest, events)
        inserted = False
        if claim is not None and claim.etag is None:
            claim, inserted = await self.claim_email(claim), True
        elif claim is not None:
            await self._check_claim(claim)
        operations: list[tuple[Any, ...]] = [("create", codec.guest_to_entity(guest))]
        operations += [("upsert", codec.index_entity(key)) for key in codec.index_rows(guest)]
        operations += [("create", codec.event_to_entity(event)) for event in events]
        try:
            etag = await self._submit("create guest", operations)
        except ConcurrencyConflict:
            recovered = None if claim is None or inserted else await self._recovered(guest.id, claim)
            if recovered is not None:
                return recovered
            if inserted:
                await self._release_quietly(claim)
            raise
        except LifecycleError:
            if inserted:
                await self._release_quietly(claim)
            raise
        self._remember(guest.id, etag, codec.index_rows(guest))
        if claim is not None:
            await self._link(claim, guest.id)
        return replace(guest, etag=etag)

    async def _check_claim(self, claim: EmailClaim) -> None:
        stored = await self._get_entity(codec.claim_partition(claim.email), codec.claim_key(claim.email))
        if stored is None or codec.entity_etag(stored) != claim.etag:
            raise ConcurrencyConflict("create guest: the email's claim changed or was released since it was read; "
                                      "retry")

    async def _link(self, claim: EmailClaim, guest_id: str) -> EmailClaim:
        return await self.take_over_claim(replace(claim, guest_id=guest_id))

    async def _recovered(self, guest_id: str, claim: EmailClaim) -> Guest | None:
        """The stored record, once the held claim is linked to it, when an earlier create of this id wrote the record
        and stopped before linking this claim (same email; the claim unlinked or linked to it already); else None."""
        stored = await self.get(guest_id)
        if stored is None or stored.email != claim.email or claim.guest_id not in ("", guest_id):
            return None
        await self._link(claim, guest_id)
        return stored

    async def _release_quietly(self, claim: EmailClaim | None) -> None:
        """Give back a claim this call inserted; one it cannot is left unlinked, to turn stale (the sweep's)."""
        if claim is None:
            return
        try:
            await self.release_claim(claim)
        except LifecycleError:
            pass

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
        _own_events(guest, events)
        if guest.etag is None:
            raise ConcurrencyConflict("save needs a record read from storage")
        old_rows, new_rows = await self._stored_rows(guest), codec.index_rows(guest)
        if old_rows == new_rows and not events:
            return await self._replace_record(guest, new_rows)
        operations = _record_operations(guest, old_rows, new_rows)
        operations += [("create", codec.event_to_entity(event)) for event in events]
        etag = await self._submit("save guest", operations)
        self._remember(guest.id, etag, new_rows)
        return replace(guest, etag=etag)

    async def save_all(self, guests: Sequence[Guest]) -> list[Guest]:
        """One transaction per partition the records are in, sent at the same time."""
        if any(guest.etag is None for guest in guests):
            raise ConcurrencyConflict("save needs records read from storage")
        rows = {guest.id: (await self._stored_rows(guest), codec.index_rows(guest)) for guest in guests}
        by_partition: dict[str, list[Guest]] = {}
        for guest in guests:
            by_partition.setdefault(codec.guest_partition(guest.id), []).append(guest)
        transactions = []
        for group in by_partition.values():
            operations = [op for guest in group for op in _record_operations(guest, *rows[guest.id])]
            if len(operations) > TRANSACTION_LIMIT:
                raise ValueError(f"{len(operations)} operations do not fit one transaction")
            for operation in operations:
                within_limits(operation[1])
            transactions.append((group, operations))
        outcomes = await asyncio.gather(*(self._save_group(group, operations, rows)
                                          for group, operations in transactions), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        saved = {guest.id: guest for outcome in outcomes for guest in outcome}  # type: ignore[union-attr]
        return [saved[guest.id] for guest in guests]

    async def _save_group(self, group: list[Guest], operations: list[tuple[Any, ...]],
                          rows: dict[str, tuple[set[str], set[str]]]) -> list[Guest]:
        client = await self._client()
        async with storage_errors("save guests"), lost_race("save guests"):
            results = await client.submit_transaction(operations)
        etags = iter(result.get("etag") for result in results)
        saved = []
        for guest in group:
            old, new = rows[guest.id]
            etag = next(etags)
            for _ in range(len(old ^ new)):
                next(etags)
            self._remember(guest.id, etag, new)
            saved.append(replace(guest, etag=etag))
        return saved

    async def _replace_record(self, guest: Guest, rows: set[str]) -> Guest:
        """The record alone changes (no index row, no event): one ETag-guarded replace, no transaction needed."""
        client = await self._client()
        async with storage_errors("save guest"), lost_race("save guest"):
            result = await client.update_entity(within_limits(codec.guest_to_entity(guest)), mode=UpdateMode.REPLACE,
                                                etag=guest.etag, match_condition=MatchConditions.IfNotModified)
        self._remember(guest.id, result.get("etag"), rows)
        return replace(guest, etag=result.get("etag"))

    async def _submit(self, action: str, operations: list[tuple[Any, ...]]) -> str | None:
        """The ETag of the first operation's entity, once the operations are committed (in a transaction shared
        with concurrent writes of their partition, or alone). Raises RecordTooLarge before anything is sent, and
        what storage_errors and lost_race make of these operations' own refusal."""
        for operation in operations:
            within_limits(operation[1])
        async with storage_errors(action), lost_race(action):
            results = await self._commits.submit(operations)
        return results[0].get("etag") if results else None

    async def _transact(self, operations: list[tuple[Any, ...]]) -> list[Any]:
        """One entity-group transaction; SDK errors are raised untranslated (the caller's _submit translates)."""
        client = await self._client()
        return await client.submit_transaction(operations)

    async def _send_one(self, operation: tuple[Any, ...]) -> Mapping[str, Any]:
        """One operation as a request of its own (an insert, or a replace under its options); any other kind as a
        transaction of one. SDK errors are raised untranslated, as `_transact`'s."""
        client = await self._client()
        kind, entity, *options = operation
        if kind == "create":
            return await client.create_entity(entity)
        if kind == "update":
            return await client.update_entity(entity, **(options[0] if options else {}))
        return (await client.submit_transaction([operation]))[0]

    async def query(self, query: GuestQuery) -> Page:
        if query.email:
            claim = await self.get_claim(query.email)
            found, unreadable = await self._readable([claim.guest_id] if claim and claim.is_linked else [])
            return Page([g for g in found if _matches(g, query)], None, unreadable)
        if query.expiring_before:
            return await self._query_expiring(query, query.expiring_before)
        return await self._query_records(query)

    async def _query_records(self, query: GuestQuery) -> Page:
        """Partition after partition, each in id order (one token covers them all)."""
        text = "PartitionKey eq @pk and RowKey gt @after and RowKey lt @hi"
        params: dict[str, Any] = {"hi": "g`"}
        if query.state:
            text += " and State eq @state"
            params["state"] = query.state.value
        client = await self._client()
        async with storage_errors("query"):
            entities, token = await fanout.partition_page(client, text, params, query.page_size,
                                                          query.continuation_token, start=codec.GUEST_PREFIX)
        guests, unreadable = self._decoded_rows(entities)
        return Page(guests, token, unreadable)

    def _decoded_rows(self, entities: Sequence[Any]) -> tuple[list[Guest], tuple[tuple[str, str], ...]]:
        """The records the rows hold, and (id, why) of the rows that cannot be read (one never hides the others)."""
        guests, unreadable = [], []
        for entity in entities:
            try:
                guest = _decoded(entity)
                self._remember(guest.id, guest.etag, codec.stored_index_rows(entity))
                guests.append(guest)
            except UnreadableRecord as exc:
                unreadable.append((exc.details[0]["guestId"], exc.details[0]["reason"]))
        return guests, tuple(unreadable)

    async def _readable(self, guest_ids: list[str]) -> tuple[list[Guest], tuple[tuple[str, str], ...]]:
        """The records of these ids that exist (read at the same time), and (id, why) of those whose row cannot be
        read."""
        async def one(guest_id: str) -> Guest | tuple[str, str] | None:
            try:
                return await self.get(guest_id)
            except UnreadableRecord as exc:
                return guest_id, exc.details[0]["reason"]

        found = await asyncio.gather(*(one(guest_id) for guest_id in guest_ids))
        return [g for g in found if isinstance(g, Guest)], tuple(g for g in found if isinstance(g, tuple))

    async def _query_expiring(self, query: GuestQuery, before: datetime) -> Page:
        """Every partition's expiry index merged (expiry order); the token names the last index row handed out."""
        low, _ = codec.index_bounds(IndexKind.EXPIRES, before)
        after = fanout.after_key(query.continuation_token)
        text = f"PartitionKey eq @pk and RowKey {'gt' if after else 'ge'} @lo and RowKey lt @hi"
        params = {"lo": after or low, "hi": f"{low}{codec.stamp(before)}"}  # strictly before
        client = await self._client()
        async with storage_errors("query"):
            rows = await fanout.first_rows(client, text, params, query.page_size + 1, select=["RowKey", "GuestId"])
        found, unreadable = await self._readable([row["GuestId"] for row in rows[:query.page_size]])
        return Page([guest for guest in found if _matches(guest, query)], fanout.after_token(rows, query.page_size),
                    unreadable)

    async def scan(self, on_page: OnRecordPage, *, page_size: int = 1000) -> int:
        client = await self._client()
        handed = 0

        async def hand_on(entities: list[Any]) -> None:
            nonlocal handed
            guests, unreadable = self._decoded_rows(entities)
            on_page(Page(guests, None, unreadable))
            handed += len(guests)

        params = {"lo": codec.GUEST_PREFIX, "hi": "g`"}
        async with storage_errors("scan"):
            await fanout.scan_pages(client, "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi", params,
                                    page_size, hand_on)
        return handed

    async def due(self, kind: IndexKind, until: datetime, limit: int) -> list[str]:
        low, high = codec.index_bounds(kind, until)
        client = await self._client()
        async with storage_errors("due query"):
            rows = await fanout.first_rows(client, "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                           {"lo": low, "hi": high}, limit, select=["RowKey", "GuestId"])
        return [row["GuestId"] for row in rows]

    async def stale_claims(self, older_than: datetime, limit: int) -> list[EmailClaim]:
        client = await self._client()
        text = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and GuestId eq '' and ClaimedAt lt @cut"
        params = {"lo": codec.CLAIM_PREFIX, "hi": "e`", "cut": older_than}
        async with storage_errors("stale claims"):
            rows = await fanout.first_rows(client, text, params, limit)
        return sorted((codec.entity_to_claim(row) for row in rows), key=lambda claim: claim.email)

    async def count_tracked(self) -> int:
        client = await self._client()
        tracked = " or ".join(f"State eq '{state.value}'" for state in TRACKED_STATES)
        text = f"PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and ({tracked})"
        async with storage_errors("count"):
            return await fanout.count(client, text, {"lo": codec.GUEST_PREFIX, "hi": "g`"})

    async def pending_events(self, limit: int) -> list[Event]:
        client = await self._client()
        async with storage_errors("outbox"):
            rows = await fanout.first_rows(client, "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                           {"lo": codec.OUTBOX_PREFIX, "hi": "o`"}, limit)
        return [codec.entity_to_event(row) for row in rows]

    async def remove_events(self, events: Sequence[Event]) -> None:
        """Up to TRANSACTION_LIMIT rows per transaction of one partition, the partitions at the same time; a
        transaction refused because a row is already gone falls back to one delete per row, where a missing row is
        success."""
        client = await self._client()
        by_partition: dict[str, set[str]] = {}
        for event in events:
            by_partition.setdefault(codec.guest_partition(event.guest_id), set()).add(codec.outbox_key(event))

        async def remove(partition: str, keys: list[str]) -> None:
            for start in range(0, len(keys), TRANSACTION_LIMIT):
                chunk = keys[start:start + TRANSACTION_LIMIT]
                async with storage_errors("outbox"):
                    if len(chunk) == 1:
                        await client.delete_entity(partition, chunk[0])
                        continue
                    try:
                        await client.submit_transaction(
                            [("delete", {"PartitionKey": partition, "RowKey": key}) for key in chunk])
                    except TableTransactionError:
                        for key in chunk:
                            await client.delete_entity(partition, key)

        outcomes = await asyncio.gather(*(remove(partition, sorted(keys)) for partition, keys in by_partition.items()),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


def _matches(guest: Guest, query: GuestQuery) -> bool:
    expiring = query.expiring_before is None or (
        guest.is_live and guest.expires_at is not None and guest.expires_at < query.expiring_before)
    return (query.state is None or guest.state is query.state) and expiring


def _own_events(guest: Guest, events: Sequence[Event]) -> None:
    """Events go into the outbox of their guest's partition: a record is written with its own events only."""
    if any(event.guest_id != guest.id for event in events):
        raise ValueError("a record is written with its own events only")


def _record_operations(guest: Guest, old_rows: set[str], new_rows: set[str]) -> list[tuple[Any, ...]]:
    """The record replaced under its ETag, and its index rows moved."""
    operations: list[tuple[Any, ...]] = [("update", codec.guest_to_entity(guest), _guarded(guest.etag))]
    operations += [("delete", codec.index_entity(key)) for key in sorted(old_rows - new_rows)]
    operations += [("upsert", codec.index_entity(key)) for key in sorted(new_rows - old_rows)]
    return operations


def _guarded(etag: str | None) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}

"""Azure Table Storage adapter (azure-data-tables, async). Storage SDK exceptions never leave this module."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError, ClientAuthenticationError, HttpResponseError, ResourceExistsError, ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from lifecycle.adapters import table_codec as codec
from lifecycle.adapters.group_commit import GroupCommit
from lifecycle.adapters.identity import STORAGE, identity_unavailable, token_failure
from lifecycle.adapters.transport import proxy_settings
from lifecycle.config import Settings
from lifecycle.domain.model import TRACKED_STATES, EmailClaim, Guest, IndexKind
from lifecycle.errors import (
    ConcurrencyConflict, ConfigurationError, InvalidRequest, NotFound, StorageUnavailable, UnreadableRecord,
)
from lifecycle.ports import Event, GuestQuery, IdempotencyRecord, Page

_RETRY: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.3, "connection_timeout": 5, "read_timeout": 20}
_CONFLICT_CODES = {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ConditionNotMet"}
TRANSACTION_LIMIT = codec.TRANSACTION_LIMIT
_TOO_LARGE_CODES = {"PropertyValueTooLarge", "EntityTooLarge", "RequestBodyTooLarge"}


class RecordTooLarge(InvalidRequest):
    """The record would exceed what Table Storage holds: the caller's data, not an outage (never retried)."""

    code = "RecordTooLarge"


def within_limits(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity, if Table Storage can hold it; else a 400 naming the property, before anything is sent."""
    name = codec.oversized_property(entity)
    if name is not None:
        raise RecordTooLarge(f"the record is too large to store ({name}); shorten the request's values",
                             details=[{"field": name, "message": "exceeds Table Storage's limits"}])
    return entity


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


def _error_code(exc: HttpResponseError) -> str | None:
    """The storage error code: on the exception (transactions) or in the `x-ms-error-code` response header."""
    response = getattr(exc, "response", None)
    return getattr(exc, "error_code", None) or (response.headers.get("x-ms-error-code") if response else None)


CONNECTION_STRING = "LIFECYCLE_TABLES_CONNECTION_STRING"
ENDPOINT = "LIFECYCLE_TABLES_ENDPOINT"


def no_storage() -> ConfigurationError:
    return ConfigurationError(f"set {CONNECTION_STRING} or {ENDPOINT}", settings=(CONNECTION_STRING, ENDPOINT))


def malformed(setting: str, what: str) -> ConfigurationError:
    """A storage setting the SDK cannot use, named (its value never shown: a connection string holds a key)."""
    return ConfigurationError(f"{setting} cannot be used: {what}", settings=(setting,))


def build_service_client(settings: Settings, credential: AsyncTokenCredential | None) -> TableServiceClient:
    """A connection string when one is set (Azurite, development), else the endpoint with the managed identity.
    Raises ConfigurationError naming the setting when neither is set or the one set cannot be parsed."""
    if settings.tables_connection_string:
        try:
            url = TableServiceClient.from_connection_string(settings.tables_connection_string).url
            return TableServiceClient.from_connection_string(settings.tables_connection_string, **_RETRY,
                                                             **proxy_settings(url))
        except ValueError:
            raise malformed(CONNECTION_STRING, "it is not a Table Storage connection string (AccountName and "
                            "AccountKey, or UseDevelopmentStorage=true)") from None
    if not settings.tables_endpoint:
        raise no_storage()
    if credential is None:
        raise ConfigurationError(f"{ENDPOINT} needs the managed identity's credential", settings=(ENDPOINT,))
    try:
        return TableServiceClient(settings.tables_endpoint, credential=credential, **_RETRY,
                                  **proxy_settings(settings.tables_endpoint))
    except ValueError:
        raise malformed(ENDPOINT, "it is not a table service URL") from None


@asynccontextmanager
async def storage_errors(action: str) -> AsyncIterator[None]:
    """Translate storage SDK errors into the project's errors: a missing table or row is NotFound (404), never an
    outage; no token from the app's identity is IdentityUnavailable (503, storage was never asked)."""
    try:
        yield
    except ClientAuthenticationError as exc:  # the credential's failure, or storage refusing the token (401/403)
        if token_failure(exc) is not None:
            raise identity_unavailable(action, STORAGE, exc) from exc
        raise StorageUnavailable(f"{action}: storage answered {exc.status_code}", retry_after=5) from exc
    except (ResourceModifiedError, ResourceExistsError) as exc:
        raise ConcurrencyConflict(f"{action}: the record was changed by another request; retry") from exc
    except ResourceNotFoundError as exc:
        raise NotFound(f"{action}: the record does not exist in storage", code="RecordNotFound") from exc
    except (TableTransactionError, HttpResponseError) as exc:
        if exc.status_code == 404:
            raise NotFound(f"{action}: the record does not exist in storage", code="RecordNotFound") from exc
        if _error_code(exc) in _TOO_LARGE_CODES or exc.status_code == 413:
            raise RecordTooLarge(f"{action}: the record is too large to store") from exc
        if not isinstance(exc, TableTransactionError):
            raise StorageUnavailable(f"{action}: storage answered {exc.status_code}", retry_after=5) from exc
        if getattr(exc, "error_code", None) in _CONFLICT_CODES or exc.status_code in (409, 412):
            raise ConcurrencyConflict(f"{action}: the record was changed by another request; retry") from exc
        raise StorageUnavailable(f"{action}: storage refused the transaction ({exc.status_code})",
                                 retry_after=5) from exc
    except AzureError as exc:
        raise StorageUnavailable(f"{action}: storage is unreachable", retry_after=10) from exc


@asynccontextmanager
async def lost_race(action: str) -> AsyncIterator[None]:
    """A write guarded by an ETag whose row is gone lost a race, as one whose ETag changed: ConcurrencyConflict.

    Nested inside `storage_errors`, so the row's absence is decided here, whatever storage_errors makes of a 404."""
    try:
        yield
    except ResourceNotFoundError as exc:
        raise ConcurrencyConflict(f"{action}: the record is gone (another request removed it); retry") from exc
    except TableTransactionError as exc:
        if exc.status_code == 404 or _error_code(exc) == "ResourceNotFound":
            raise ConcurrencyConflict(f"{action}: a record is gone (another request removed it); retry") from exc
        raise


class LifecycleTables:
    """Lazily creates (once per worker) and hands out the app's tables."""

    def __init__(self, service: TableServiceClient, settings: Settings) -> None:
        self._service = service
        self._settings = settings
        self._clients: dict[str, TableClient] = {}
        self._creating: asyncio.Lock | None = None

    async def table(self, kind: str) -> TableClient:
        """The table's client; the table is created on first use, once however many ask at the same time."""
        if kind in self._clients:
            return self._clients[kind]
        self._creating = self._creating or asyncio.Lock()
        async with self._creating:
            if kind not in self._clients:
                name = self._settings.table_name(kind)
                async with storage_errors(f"create table {name}"):
                    try:
                        await self._service.create_table(name)
                    except ResourceExistsError:
                        pass
                self._clients[kind] = self._service.get_table_client(name)
        return self._clients[kind]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        await self._service.close()


class TableGuestStore:
    """GuestStore on Azure Table Storage. Concurrent creates and saves share transactions (GroupCommit): each
    caller's outcome is the one it would have alone."""

    KNOWN_ROWS_LIMIT = 20_000
    TRANSACTIONS_IN_FLIGHT = 1

    def __init__(self, tables: LifecycleTables) -> None:
        self._tables = tables
        self._known_rows: dict[str, tuple[str | None, set[str]]] = {}  # guest id -> (etag, its index rows)
        self._commits = GroupCommit(self._transact, max_in_flight=self.TRANSACTIONS_IN_FLIGHT)

    def _remember(self, guest_id: str, etag: str | None, rows: set[str]) -> None:
        if len(self._known_rows) >= self.KNOWN_ROWS_LIMIT:
            self._known_rows.clear()
        self._known_rows[guest_id] = (etag, rows)

    async def _stored_rows(self, guest: Guest) -> set[str]:
        """The index rows of the stored version the caller read (known without a read when this store saw it)."""
        known = self._known_rows.get(guest.id)
        if known is not None and known[0] == guest.etag:
            return known[1]
        stored = await self._get_entity(codec.guest_key(guest.id))
        if stored is None or codec.entity_etag(stored) != guest.etag:
            raise ConcurrencyConflict("the guest was changed by another request; retry")
        return codec.stored_index_rows(stored)

    async def _client(self) -> TableClient:
        return await self._tables.table("guests")

    async def ping(self) -> None:
        client = await self._client()
        async with storage_errors("ping"):
            async for _ in client.query_entities("PartitionKey eq 'ping'", results_per_page=1):
                break

    async def _get_entity(self, row_key: str) -> dict[str, Any] | None:
        client = await self._client()
        async with storage_errors("read"):
            try:
                return await client.get_entity(codec.PARTITION, row_key)
            except ResourceNotFoundError:
                return None

    async def get(self, guest_id: str) -> Guest | None:
        entity = await self._get_entity(codec.guest_key(guest_id))
        if entity is None:
            return None
        guest = _decoded(entity)
        self._remember(guest.id, guest.etag, codec.stored_index_rows(entity))
        return guest

    async def get_claim(self, email: str) -> EmailClaim | None:
        entity = await self._get_entity(codec.claim_key(email))
        return codec.entity_to_claim(entity) if entity else None

    async def claim_email(self, claim: EmailClaim) -> EmailClaim:
        client = await self._client()
        async with storage_errors("claim email"):
            result = await client.create_entity(within_limits(codec.claim_to_entity(claim)))
        return replace(claim, etag=result.get("etag"))

    async def take_over_claim(self, claim: EmailClaim) -> EmailClaim:
        client = await self._client()
        async with storage_errors("take over claim"), lost_race("take over claim"):
            result = await client.update_entity(within_limits(codec.claim_to_entity(claim)), mode=UpdateMode.REPLACE,
                                                etag=claim.etag, match_condition=MatchConditions.IfNotModified)
        return replace(claim, etag=result.get("etag"))

    async def release_claim(self, claim: EmailClaim) -> None:
        client = await self._client()
        async with storage_errors("release claim"):
            await client.delete_entity(codec.PARTITION, codec.claim_key(claim.email), etag=claim.etag,
                                       match_condition=MatchConditions.IfNotModified)

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        operations: list[tuple[Any, ...]] = [("create", codec.guest_to_entity(guest))]
        operations += [("upsert", codec.index_entity(key)) for key in codec.index_rows(guest)]
        if claim is not None:
            linked = codec.claim_to_entity(replace(claim, guest_id=guest.id))
            operations.append(("update", linked, _guarded(claim.etag)) if claim.etag else ("create", linked))
        operations += [("create", codec.event_to_entity(event)) for event in events]
        etag = await self._submit("create guest", operations)
        self._remember(guest.id, etag, codec.index_rows(guest))
        return replace(guest, etag=etag)

    async def save(self, guest: Guest, events: Sequence[Event] = ()) -> Guest:
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
        if any(guest.etag is None for guest in guests):
            raise ConcurrencyConflict("save needs records read from storage")
        rows = [(await self._stored_rows(guest), codec.index_rows(guest)) for guest in guests]
        operations = [op for guest, (old, new) in zip(guests, rows) for op in _record_operations(guest, old, new)]
        if len(operations) > TRANSACTION_LIMIT:
            raise ValueError(f"{len(operations)} operations do not fit one transaction")
        for operation in operations:
            within_limits(operation[1])
        client = await self._client()
        async with storage_errors("save guests"), lost_race("save guests"):
            results = await client.submit_transaction(operations)
        etags = iter(result.get("etag") for result in results)
        saved = []
        for guest, (old, new) in zip(guests, rows):
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
        with concurrent writes, or alone). Raises RecordTooLarge before anything is sent, and what storage_errors
        and lost_race make of these operations' own refusal."""
        for operation in operations:
            within_limits(operation[1])
        async with storage_errors(action), lost_race(action):
            results = await self._commits.submit(operations)
        return results[0].get("etag") if results else None

    async def _transact(self, operations: list[tuple[Any, ...]]) -> list[Any]:
        """One entity-group transaction; SDK errors are raised untranslated (the caller's _submit translates)."""
        client = await self._client()
        return await client.submit_transaction(operations)

    async def scan(self, on_page: Any, *, page_size: int = 1000) -> int:
        token, handed = None, 0
        while True:
            page = await self.query(GuestQuery(page_size=page_size, continuation_token=token))
            on_page(Page(page.guests, None, page.unreadable))
            handed += len(page.guests)
            token = page.continuation_token
            if not token:
                return handed

    async def query(self, query: GuestQuery) -> Page:
        if query.email:
            claim = await self.get_claim(query.email)
            found, unreadable = await self._readable([claim.guest_id] if claim and claim.is_linked else [])
            return Page([g for g in found if _matches(g, query)], None, unreadable)
        if query.expiring_before:
            return await self._query_expiring(query, query.expiring_before)
        return await self._query_records(query)

    async def _query_records(self, query: GuestQuery) -> Page:
        text = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        params: dict[str, Any] = {"pk": codec.PARTITION, "lo": codec.GUEST_PREFIX, "hi": "g`"}
        if query.state:
            text += " and State eq @state"
            params["state"] = query.state.value
        entities, token = await self._page(text, params, query)
        guests, unreadable = [], []
        for entity in entities:
            try:
                guest = _decoded(entity)
                self._remember(guest.id, guest.etag, codec.stored_index_rows(entity))
                guests.append(guest)
            except UnreadableRecord as exc:  # one bad row never hides the others
                unreadable.append((exc.details[0]["guestId"], exc.details[0]["reason"]))
        return Page(guests, token, tuple(unreadable))

    async def _readable(self, guest_ids: list[str]) -> tuple[list[Guest], tuple[tuple[str, str], ...]]:
        """The records of these ids that exist, and (id, why) of those whose row cannot be read."""
        guests, unreadable = [], []
        for guest_id in guest_ids:
            try:
                guest = await self.get(guest_id)
            except UnreadableRecord as exc:
                unreadable.append((guest_id, exc.details[0]["reason"]))
                continue
            if guest is not None:
                guests.append(guest)
        return guests, tuple(unreadable)

    async def _query_expiring(self, query: GuestQuery, before: datetime) -> Page:
        low, _ = codec.index_bounds(IndexKind.EXPIRES, before)
        params = {"pk": codec.PARTITION, "lo": low, "hi": f"{low}{codec.stamp(before)}"}  # strictly before
        rows, token = await self._page("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi", params, query)
        found, unreadable = await self._readable([row["GuestId"] for row in rows])
        return Page([guest for guest in found if _matches(guest, query)], token, unreadable)

    async def _page(self, text: str, params: dict[str, Any], query: GuestQuery) -> tuple[list[Any], str | None]:
        client = await self._client()
        token = _decode_token(query.continuation_token)
        async with storage_errors("query"):
            pages = client.query_entities(text, parameters=params, results_per_page=query.page_size).by_page(
                continuation_token=token)
            try:
                entities = [entity async for entity in await pages.__anext__()]
            except StopAsyncIteration:
                entities = []
            next_token = pages.continuation_token  # type: ignore[attr-defined]  # AsyncItemPaged's pager
        return entities, _encode_token(next_token)

    async def due(self, kind: IndexKind, until: datetime, limit: int) -> list[str]:
        low, high = codec.index_bounds(kind, until)
        client = await self._client()
        params = {"pk": codec.PARTITION, "lo": low, "hi": high}
        ids: list[str] = []
        async with storage_errors("due query"):
            async for row in client.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                                   parameters=params, select=["GuestId"],
                                                   results_per_page=min(limit, 1000)):
                ids.append(row["GuestId"])
                if len(ids) >= limit:
                    break
        return ids

    async def stale_claims(self, older_than: datetime, limit: int) -> list[EmailClaim]:
        client = await self._client()
        text = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and GuestId eq '' and ClaimedAt lt @cut"
        params = {"pk": codec.PARTITION, "lo": codec.CLAIM_PREFIX, "hi": "e`", "cut": older_than}
        claims: list[EmailClaim] = []
        async with storage_errors("stale claims"):
            async for entity in client.query_entities(text, parameters=params):
                claims.append(codec.entity_to_claim(entity))
                if len(claims) >= limit:
                    break
        return claims

    async def count_tracked(self) -> int:
        client = await self._client()
        tracked = " or ".join(f"State eq '{state.value}'" for state in TRACKED_STATES)
        text = f"PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and ({tracked})"
        params = {"pk": codec.PARTITION, "lo": codec.GUEST_PREFIX, "hi": "g`"}
        count = 0
        async with storage_errors("count"):
            async for _ in client.query_entities(text, parameters=params, select=["RowKey"], results_per_page=1000):
                count += 1
        return count

    async def pending_events(self, limit: int) -> list[Event]:
        client = await self._client()
        params = {"pk": codec.PARTITION, "lo": codec.OUTBOX_PREFIX, "hi": "o`"}
        events: list[Event] = []
        async with storage_errors("outbox"):
            async for entity in client.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                                      parameters=params, results_per_page=min(limit, 1000)):
                events.append(codec.entity_to_event(entity))
                if len(events) >= limit:
                    break
        return events

    async def remove_events(self, events: Sequence[Event]) -> None:
        """Up to TRANSACTION_LIMIT rows per transaction (all in the one partition); a transaction refused because a
        row is already gone falls back to one delete per row, where a missing row is success."""
        client = await self._client()
        keys = sorted({codec.outbox_key(event) for event in events})
        for start in range(0, len(keys), TRANSACTION_LIMIT):
            chunk = keys[start:start + TRANSACTION_LIMIT]
            async with storage_errors("outbox"):
                if len(chunk) == 1:
                    await client.delete_entity(codec.PARTITION, chunk[0])
                    continue
                try:
                    await client.submit_transaction(
                        [("delete", {"PartitionKey": codec.PARTITION, "RowKey": key}) for key in chunk])
                except TableTransactionError:
                    for key in chunk:
                        await client.delete_entity(codec.PARTITION, key)


def _matches(guest: Guest, query: GuestQuery) -> bool:
    expiring = query.expiring_before is None or (
        guest.is_live and guest.expires_at is not None and guest.expires_at < query.expiring_before)
    return (query.state is None or guest.state is query.state) and expiring


def _record_operations(guest: Guest, old_rows: set[str], new_rows: set[str]) -> list[tuple[Any, ...]]:
    """The record replaced under its ETag, and its index rows moved."""
    operations: list[tuple[Any, ...]] = [("update", codec.guest_to_entity(guest), _guarded(guest.etag))]
    operations += [("delete", codec.index_entity(key)) for key in sorted(old_rows - new_rows)]
    operations += [("upsert", codec.index_entity(key)) for key in sorted(new_rows - old_rows)]
    return operations


def _guarded(etag: str | None) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}


def _encode_token(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("continuationToken is not valid") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest("continuationToken is not valid")
    return value


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

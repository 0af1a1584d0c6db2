"""Mapping between domain objects and Table entities, and the key scheme of the guests table (layout 2).

The rows of the guests table are spread over PARTITION_COUNT (16) partitions, `guests-0` .. `guests-f`, so that reads
and writes of different guests run in parallel (Azure serves one partition at about 2,000 entities a second):
  guests-<h>  g_<guestId>                         the guest record
  guests-<h>  x_<kind>_<yyyymmddThhmmssffffff>Z_<guestId>  time-ordered index rows the sweep range-scans
  guests-<h>  o_<yyyymmddThhmmssffffff>Z_<eventId>  outbox events waiting to be dispatched
      with <h> the first hex digit of sha256(guestId) (`guest_partition`): a record, its index rows and its
      outbox events share a partition, so they are written in one ETag-guarded transaction;
  guests-<h>  e_<email>                           the email claim / index (write-ahead state `inviting` before Graph
      is called), with <h> the first hex digit of sha256(email) (`claim_partition`; the email as the services
      normalise it, as the key holds it): a claim is usually in another partition than its record;
  meta        layout                              the layout marker (`tables/layout.py`): Version 2, State
      done|migrating.

Layout 1 (versions before the partitioned layout) kept every row in the one partition `guests` (OLD_PARTITION); the
app refuses to run on it, and `python -m lifecycle migrate --apply` moves its rows (`table_migration`).

Guest records and email claims carry the format they were written in (`RecordFormat`, RECORD_FORMAT; a row without
it is format 1): a row of a newer format than this version knows is refused (RecordFormatTooNew), never misread.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from lifecycle import __version__
from lifecycle.domain.model import (
    DisabledReason,
    EmailClaim,
    Guest,
    GuestState,
    IndexKind,
    InvitationState,
)
from lifecycle.errors import UnreadableRecord
from lifecycle.ports import TRANSACTION_LIMIT, Event

__all__ = ["TRANSACTION_LIMIT"]  # re-exported: the Table adapters' transaction limit is the ports' constant

OLD_PARTITION = "guests"  # layout 1: every row of the guests table
PARTITION_PREFIX = "guests-"
PARTITION_COUNT = 16
PARTITIONS = tuple(f"{PARTITION_PREFIX}{digit:x}" for digit in range(PARTITION_COUNT))
META_PARTITION = "meta"
GUEST_PREFIX = "g_"
CLAIM_PREFIX = "e_"
INDEX_PREFIX = "x_"
OUTBOX_PREFIX = "o_"
_UNSAFE = "/\\#?%"
MAX_STRING_CHARS = 32 * 1024  # Table Storage: a string property holds up to 64 KiB of UTF-16
MAX_ENTITY_BYTES = 1024 * 1024  # Table Storage: an entity holds up to 1 MiB
OPERATION_HEADER_BYTES = 1024  # an operation's MIME part: boundary, request line, headers (its URL apart)

RECORD_FORMAT = 2
"""The format of the guest records and email claims this version writes, stored in each row as FORMAT_COLUMN (a row
without it is format 1, the first). Format 2 stores a record's dates as ISO 8601 strings (format 1: Edm.DateTime):
reading a million records, the storage SDK's parsing of typed dates cost more than all the rest of a row; no query
filters a record by a date (the sweep range-scans the index rows, whose keys hold the time). A version that changes what
a row holds raises it, reads every older format (a record is rewritten in the new format when it next changes) and says
so in CHANGELOG.md; an older version refuses a row of a newer format (RecordFormatTooNew, 409) instead of misreading it:
roll back the code with the data (docs/operate.md, "Upgrading and rolling back")."""
FORMAT_COLUMN = "RecordFormat"


class RecordFormatTooNew(UnreadableRecord):
    """A stored row written by a newer version of the app, in a format this version does not know."""

    code = "RecordFormatTooNew"


def check_format(entity: dict[str, Any], what: str, name: str) -> None:
    """Refuse a row of a newer format than RECORD_FORMAT (RecordFormatTooNew naming it); ValueError for a format
    that is not a number."""
    stored = entity.get(FORMAT_COLUMN)
    try:
        number = 1 if stored is None else int(stored)
    except (TypeError, ValueError):
        raise ValueError(f"{FORMAT_COLUMN} {stored!r} is not a number") from None
    if number > RECORD_FORMAT:
        reason = f"record format {number} is newer than {RECORD_FORMAT}, the newest this version reads"
        raise RecordFormatTooNew(
            f"the stored {what} '{name}' is in record format {number}, written by a newer version of Guest Lifecycle; "
            f"this version ({__version__}) reads formats up to {RECORD_FORMAT}: deploy the newer version again, or "
            "roll back the data with the code (docs/operate.md, Upgrading and rolling back)",
            details=[{"guestId": name, "reason": reason}])


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def encode_key(text: str) -> str:
    """Percent-encode the characters Table keys forbid (and %), plus control characters."""
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in _UNSAFE)
    return quote(text, safe=safe)


def decode_key(text: str) -> str:
    return unquote(text)


def _partition_of(text: str) -> str:
    return PARTITION_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[0]


def guest_partition(guest_id: str) -> str:
    """The partition of the guest's record, index rows and outbox events."""
    return _partition_of(guest_id)


def claim_partition(email: str) -> str:
    """The partition of the email's claim."""
    return _partition_of(email)


def guest_key(guest_id: str) -> str:
    return GUEST_PREFIX + guest_id


def claim_key(email: str) -> str:
    return CLAIM_PREFIX + encode_key(email)


def index_key(kind: IndexKind, moment: datetime, guest_id: str) -> str:
    return f"{INDEX_PREFIX}{kind.value}_{stamp(moment)}_{guest_id}"


def index_bounds(kind: IndexKind, until: datetime) -> tuple[str, str]:
    return f"{INDEX_PREFIX}{kind.value}_", f"{INDEX_PREFIX}{kind.value}_{stamp(until)}~"


def outbox_key(event: Event) -> str:
    return f"{OUTBOX_PREFIX}{stamp(event.time or datetime.now(UTC))}_{event.id}"


def _required_dt(value: Any) -> datetime:
    moment = _dt(value)
    if moment is None:
        raise ValueError("a required date is empty")
    return moment


def _dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(datetime(*value.timetuple()[:6], value.microsecond, tzinfo=value.tzinfo))
    return _utc(datetime.fromisoformat(str(value)))


def _utc(value: datetime) -> datetime:
    """The same instant in UTC, exact to the microsecond (the SDK writes it as Edm.DateTime with six decimals)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


_DATES = ("expires_at", "invited_at", "disabled_at", "deleted_at", "purged_at", "notice_sent_at", "created_at",
          "updated_at", "pending_since", "activity_baseline", "adopted_at", "directory_created_at",
          "attested_at", "attestation_notice_at", "unsponsored_at")
_LISTS = ("groups", "pending_groups", "removing_groups", "sponsors")
_DICTS = ("pending_attributes", "attributes")


def _column(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_DATE_COLUMNS = tuple((name, _column(name)) for name in _DATES)  # read for every record: named once
_LIST_COLUMNS = tuple((name, _column(name)) for name in _LISTS)
_DICT_COLUMNS = tuple((name, _column(name)) for name in _DICTS)


def guest_to_entity(guest: Guest) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": guest_partition(guest.id), "RowKey": guest_key(guest.id), FORMAT_COLUMN: RECORD_FORMAT,
        "Id": guest.id, "Email": guest.email,
        "DisplayName": guest.display_name, "State": guest.state.value,
        "InvitationState": guest.invitation_state.value,
        "DisabledReason": guest.disabled_reason.value if guest.disabled_reason else "",
        "LastError": guest.last_error[:2000], "PendingAction": guest.pending_action,
        "IndexKeys": json.dumps(sorted(index_rows(guest))),
    }
    for name, column in _DATE_COLUMNS:
        value = getattr(guest, name)
        entity[column] = _utc(value).isoformat() if value else None
    for name, column in _LIST_COLUMNS + _DICT_COLUMNS:
        entity[column] = json.dumps(getattr(guest, name) if name in _DICTS else list(getattr(guest, name)))
    return {key: value for key, value in entity.items() if value is not None}


def entity_to_guest(entity: dict[str, Any]) -> Guest:
    check_format(entity, "record of guest", str(entity.get("Id") or entity.get("RowKey")))
    values: dict[str, Any] = {name: _dt(entity.get(column)) for name, column in _DATE_COLUMNS}
    values.update({name: tuple(json.loads(entity.get(column) or "[]")) for name, column in _LIST_COLUMNS})
    values.update({name: dict(json.loads(entity.get(column) or "{}")) for name, column in _DICT_COLUMNS})
    reason = entity.get("DisabledReason") or None
    return Guest(
        id=entity["Id"], email=entity["Email"], display_name=entity.get("DisplayName", ""),
        state=GuestState(entity["State"]), invitation_state=InvitationState(entity["InvitationState"]),
        disabled_reason=DisabledReason(reason) if reason else None, last_error=entity.get("LastError", ""),
        pending_action=entity.get("PendingAction", ""),
        etag=entity_etag(entity), **values,
    )


def stored_index_rows(entity: dict[str, Any]) -> set[str]:
    return set(json.loads(entity.get("IndexKeys") or "[]"))


def index_rows(guest: Guest) -> set[str]:
    return {index_key(kind, moment, guest.id) for kind, moment in guest.index_entries().items()}


def index_entity(row_key: str) -> dict[str, Any]:
    guest_id = row_key.rsplit("_", 1)[1]
    return {"PartitionKey": guest_partition(guest_id), "RowKey": row_key, "GuestId": guest_id}


def claim_to_entity(claim: EmailClaim) -> dict[str, Any]:
    return {
        "PartitionKey": claim_partition(claim.email), "RowKey": claim_key(claim.email), FORMAT_COLUMN: RECORD_FORMAT,
        "Email": claim.email, "GuestId": claim.guest_id,
        "State": "linked" if claim.is_linked else GuestState.INVITING.value,
        "ClaimedAt": _utc(claim.claimed_at), "Owner": claim.owner, "Request": json.dumps(claim.request),
    }


def entity_to_claim(entity: dict[str, Any]) -> EmailClaim:
    check_format(entity, "email claim", str(entity.get("Email") or entity.get("RowKey")))
    return EmailClaim(
        email=entity["Email"], guest_id=entity.get("GuestId", ""), claimed_at=_required_dt(entity["ClaimedAt"]),
        owner=entity.get("Owner", ""), request=json.loads(entity.get("Request") or "{}"), etag=entity_etag(entity),
    )


def event_to_entity(event: Event) -> dict[str, Any]:
    return {
        "PartitionKey": guest_partition(event.guest_id), "RowKey": outbox_key(event), "EventId": event.id,
        "Type": event.type, "GuestId": event.guest_id, "Time": _utc(event.time) if event.time else None,
        "Data": json.dumps(event.data, default=str),
    }


def entity_to_event(entity: dict[str, Any]) -> Event:
    return Event(type=entity["Type"], guest_id=entity["GuestId"], data=json.loads(entity.get("Data") or "{}"),
                 id=entity["EventId"], time=_dt(entity.get("Time")))


def oversized_property(entity: dict[str, Any]) -> str | None:
    """The property that would make Table Storage refuse the entity (or "entity" for its total size), else None."""
    total = 0
    for name, value in entity.items():
        if isinstance(value, str):
            if len(value.encode("utf-16-le")) > 2 * MAX_STRING_CHARS:
                return name
            total += 2 * len(value)
        total += 8 + 2 * len(name)
    return "entity" if total > MAX_ENTITY_BYTES else None


def operation_bytes(entity: dict[str, Any]) -> int:
    """An upper bound on the bytes a transaction's body spends on an operation with this entity (its MIME part,
    the entity's JSON and type annotations), without serializing it: a printable ASCII string takes at most 2
    bytes a character in JSON (escapes), any other at most 12 (an escaped surrogate pair)."""
    total = OPERATION_HEADER_BYTES + 3 * len(str(entity.get("RowKey", "")))  # the key percent-encoded in the URL
    for name, value in entity.items():
        total += 64 + 2 * len(name)  # quotes, separators, an odata.type annotation, a number or a date
        if isinstance(value, str):
            total += len(value) * (2 if value.isascii() and value.isprintable() else 12)
        elif isinstance(value, bytes):
            total += 2 * len(value)
    return total


def entity_etag(entity: Any) -> str | None:
    metadata = getattr(entity, "metadata", None) or {}
    return metadata.get("etag")

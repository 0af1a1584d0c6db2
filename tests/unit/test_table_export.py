"""The export's JSON form of a stored row, its continuation points, and what an import refuses before it writes."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from azure.data.tables import EdmType, EntityProperty

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.export import (
    EXPORT_FORMAT,
    EXPORTED_TABLES,
    BadExport,
    Continuation,
    TableImport,
    entity_to_json,
    json_to_entity,
)
from lifecycle.config import Settings
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import InvalidRequest

SETTINGS = Settings.from_env({"LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})


def header(**changes: object) -> str:
    return json.dumps({"export": "guest-lifecycle", "format": EXPORT_FORMAT, "appVersion": "1.0.0",
                       "recordFormat": codec.RECORD_FORMAT, **changes})


def test_every_stored_type_has_a_json_form_that_names_it():
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    guid = uuid.uuid4()
    row = {"PartitionKey": "p", "RowKey": "r", "Text": "é ☃", "Flag": True, "Small": 7, "Big": EntityProperty(2**40,
           EdmType.INT64), "Ratio": 0.5, "Odd": float("nan"), "At": moment, "Id": guid, "Blob": b"\x00\xff"}
    encoded = entity_to_json(row)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON
    assert encoded["Text"] == "é ☃" and "Text@odata.type" not in encoded
    assert encoded["Flag"] is True and encoded["Small"] == 7 and "Small@odata.type" not in encoded
    assert (encoded["Big"], encoded["Big@odata.type"]) == (str(2**40), "Edm.Int64")
    assert (encoded["Ratio"], encoded["Ratio@odata.type"]) == (0.5, "Edm.Double")
    assert encoded["Odd"] == "NaN"
    assert (encoded["At"], encoded["At@odata.type"]) == ("2026-01-02T03:04:05.123456Z", "Edm.DateTime")
    assert (encoded["Id"], encoded["Id@odata.type"]) == (str(guid), "Edm.Guid")
    assert (encoded["Blob"], encoded["Blob@odata.type"]) == ("AP8=", "Edm.Binary")
    decoded = json_to_entity(encoded)
    assert decoded["Big"] == EntityProperty(str(2**40), EdmType.INT64)
    assert decoded["At"] == EntityProperty("2026-01-02T03:04:05.123456Z", EdmType.DATETIME)
    assert decoded["Blob"] == EntityProperty(b"\x00\xff", EdmType.BINARY)
    assert {k: decoded[k] for k in ("Text", "Flag", "Small")} == {"Text": "é ☃", "Flag": True, "Small": 7}


def test_the_codec_rows_survive_the_json_form():
    guest = codec.guest_to_entity(Guest(id="g1", email="a@b.co", groups=("x",), expires_at=datetime.now(UTC)))
    encoded = entity_to_json(guest)
    assert encoded[codec.FORMAT_COLUMN] == codec.RECORD_FORMAT
    assert json_to_entity(encoded)["Email"] == "a@b.co"


def test_a_continuation_point_round_trips_and_a_forged_one_is_refused():
    point = Continuation("audit", {"PartitionKey": "p", "RowKey": "r"}, 1234)
    assert Continuation.decode(point.encode()) == point
    assert Continuation.decode(Continuation("guests", None, 0).encode()).page is None
    partition_only = Continuation("audit", {"PartitionKey": "p", "RowKey": None}, 9)
    assert Continuation.decode(partition_only.encode()) == partition_only
    for forged in ("", "garbage!", Continuation("idempotency", None, 0).encode().replace("a", "b")):
        with pytest.raises(InvalidRequest):
            Continuation.decode(forged)
    assert EXPORTED_TABLES == ("guests", "audit", "runs")


@pytest.mark.parametrize("first, message", [
    ('{"not": "an export"}', "does not start with the header"),
    (header(format=EXPORT_FORMAT + 1), "layout"),
    (header(recordFormat=codec.RECORD_FORMAT + 1), "records of format"),
    ("not json", "is not JSON"),
])
async def test_an_import_refuses_a_file_it_cannot_read_before_writing_anything(first, message):
    importer = TableImport(None, SETTINGS)  # type: ignore[arg-type]  # refused before storage is asked
    with pytest.raises(BadExport, match=message):
        await importer.load([first, '{"table": "guests", "entity": {"PartitionKey": "p", "RowKey": "r"}}'])


async def test_an_import_refuses_a_row_of_a_newer_record_format():
    row = entity_to_json(codec.guest_to_entity(Guest(id="g1", email="a@b.co")))
    row[codec.FORMAT_COLUMN] = codec.RECORD_FORMAT + 1
    with pytest.raises(codec.RecordFormatTooNew, match="newer version"):
        await TableImport(None, SETTINGS).load([header(), json.dumps({"table": "guests", "entity": row})])  # type: ignore[arg-type]


def test_a_record_of_a_newer_format_is_refused_clearly_and_an_older_one_is_read():
    entity = codec.guest_to_entity(Guest(id="g1", email="a@b.co"))
    del entity[codec.FORMAT_COLUMN]  # written before rows carried their format: format 1
    assert codec.entity_to_guest(entity).id == "g1"
    entity[codec.FORMAT_COLUMN] = codec.RECORD_FORMAT + 1
    with pytest.raises(codec.RecordFormatTooNew) as refused:
        codec.entity_to_guest(entity)
    assert refused.value.status == 409 and refused.value.details[0]["guestId"] == "g1"
    assert "newer version" in refused.value.message and "docs/operate.md" in refused.value.message
    claim = codec.claim_to_entity(EmailClaim(email="a@b.co", guest_id="g1", claimed_at=datetime.now(UTC)))
    assert claim[codec.FORMAT_COLUMN] == codec.RECORD_FORMAT
    claim[codec.FORMAT_COLUMN] = codec.RECORD_FORMAT + 1
    with pytest.raises(codec.RecordFormatTooNew):
        codec.entity_to_claim(claim)

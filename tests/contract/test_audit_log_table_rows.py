"""The Table audit log reads the rows written before entries were kept newest first (`<time>_<random>`) as the
older part of a history, after every newer row."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.audit import TableAuditLog
from lifecycle.ports import AuditEntry

pytestmark = pytest.mark.azurite
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def adapter() -> str:
    return "table"


async def test_rows_of_the_earlier_key_scheme_follow_the_newer_ones(tables):
    log = TableAuditLog(tables)
    client = await tables.table("audit")
    for n in range(3):  # as the earlier version wrote them: oldest first
        at = T0 + timedelta(minutes=n)
        await client.create_entity({"PartitionKey": "guest-9", "RowKey": f"{codec.stamp(at)}_old{n}", "Actor": "old",
                                    "Action": "guest.disable", "Target": "guest-9", "Outcome": "succeeded", "At": at,
                                    "GraphRequestIds": "[]", "Details": json.dumps({"n": n})})
    for n in range(3, 5):
        await log.record(AuditEntry("new", "guest.enable", "guest-9", "succeeded", T0 + timedelta(days=1, minutes=n),
                                    details={"n": n}))
    seen, token = [], None
    while True:
        page = await log.history("guest-9", 2, token)
        seen.append([e.details["n"] for e in page.entries])
        token = page.continuation_token
        if token is None:
            break
    assert seen == [[4, 3], [2, 1], [0]]
    assert [e.details["n"] for e in await log.entries_for("guest-9")] == [0, 1, 2, 3, 4]

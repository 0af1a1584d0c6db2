"""AuditLog contract: the in-memory log and the Table log (Azurite) keep and return entries the same way."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from lifecycle.ports import AUDIT_DETAILS_MAX_CHARS, AuditEntry

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def entry(target: str = "guest-1", at: datetime = T0, **details) -> AuditEntry:
    return AuditEntry(actor="api:caller", action="disable", target=target, outcome="ok", at=at,
                      graph_request_ids=("req-1", "req-2"), details=details)


async def test_entries_read_back_as_written_oldest_first(audit):
    later, earlier = entry(at=T0 + timedelta(seconds=1), step=2), entry(step=1, groups=["a", "b"], dry=False)
    await audit.record(later)
    await audit.record(earlier)
    assert await audit.entries_for("guest-1") == [earlier, later]


async def test_entries_are_kept_per_target_whatever_its_characters(audit):
    await audit.record(entry(target="group/a#b?c%d"))
    await audit.record(entry(target="guest-2"))
    assert [e.target for e in await audit.entries_for("group/a#b?c%d")] == ["group/a#b?c%d"]
    assert await audit.entries_for("nobody") == []


async def test_details_that_are_not_json_come_back_as_their_text(audit):
    await audit.record(entry(when=T0, ids=("x", "y")))
    [read] = await audit.entries_for("guest-1")
    assert read.details == {"when": str(T0), "ids": ["x", "y"]}


async def test_details_too_long_to_keep_come_back_truncated_and_still_json(audit):
    await audit.record(entry(error="x" * (AUDIT_DETAILS_MAX_CHARS + 10)))
    [read] = await audit.entries_for("guest-1")
    assert set(read.details) == {"truncated"} and len(read.details["truncated"]) == AUDIT_DETAILS_MAX_CHARS
    assert read.details["truncated"].startswith(json.dumps({"error": "xxx"})[:-2])


async def test_history_pages_newest_first_and_gives_every_entry_once(audit):
    written = [entry(at=T0 + timedelta(minutes=n), step=n) for n in range(7)]
    for item in reversed(written):  # written in any order: read by time
        await audit.record(item)
    await audit.record(entry(target="someone-else"))
    pages, token = [], None
    while True:
        page = await audit.history("guest-1", 3, token)
        pages.append([e.details["step"] for e in page.entries])
        token = page.continuation_token
        if token is None:
            break
    assert pages == [[6, 5, 4], [3, 2, 1], [0]]


async def test_history_of_a_target_without_entries_is_one_empty_page(audit):
    page = await audit.history("nobody", 10)
    assert page.entries == [] and page.continuation_token is None


async def test_a_history_token_the_log_did_not_issue_is_refused(audit):
    import pytest

    from lifecycle.errors import InvalidRequest

    await audit.record(entry())
    with pytest.raises(InvalidRequest):
        await audit.history("guest-1", 1, "not-a-token")

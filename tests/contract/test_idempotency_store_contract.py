"""IdempotencyStore contract: the in-memory store and the Table store (Azurite) answer every call the same way."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.errors import ConcurrencyConflict
from lifecycle.ports import IdempotencyRecord

T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def record(key: str = "key-1", fingerprint: str = "body-a", **changes) -> IdempotencyRecord:
    return replace(IdempotencyRecord(key=key, fingerprint=fingerprint, status="in_progress",
                                     expires_at=T0 + timedelta(hours=24), started_at=T0), **changes)


async def test_claiming_a_new_key_stores_the_record_with_an_etag(keys):
    stored, created = await keys.claim(record())
    assert created and stored.etag and replace(stored, etag=None) == record()


async def test_claiming_a_taken_key_returns_the_stored_record_even_for_another_body(keys):
    first, _ = await keys.claim(record(fingerprint="body-a"))
    stored, created = await keys.claim(record(fingerprint="body-b", started_at=T0 + timedelta(seconds=1)))
    assert not created and stored == first and stored.fingerprint == "body-a"


async def test_keys_are_told_apart_whatever_their_characters(keys):
    for key in ("a/b#c?d%e", "A/B#C?D%E", "x" * 255, "ключ"):
        assert (await keys.claim(record(key=key)))[1]
    assert not (await keys.claim(record(key="a/b#c?d%e")))[1]


async def test_completing_with_the_current_etag_stores_the_response_for_replay(keys):
    claimed, _ = await keys.claim(record())
    done = replace(claimed, status="completed", response_status=201, response_headers={"Location": "/api/guests/1"},
                   response_body='{"id": "1", "email": "zoë@fabrikam.com"}')
    completed = await keys.replace(done)
    assert completed.etag and completed.etag != claimed.etag
    replayed, created = await keys.claim(record(fingerprint="body-a"))
    assert not created and replayed == completed and replayed.response_headers == {"Location": "/api/guests/1"}


async def test_replacing_with_a_stale_etag_is_a_conflict_and_keeps_the_winner(keys):
    claimed, _ = await keys.claim(record())
    winner = await keys.replace(replace(claimed, status="completed", response_status=200))
    with pytest.raises(ConcurrencyConflict):
        await keys.replace(replace(claimed, status="completed", response_status=201))
    assert (await keys.claim(record()))[0] == winner


async def test_replacing_a_released_record_is_a_conflict(keys):
    claimed, _ = await keys.claim(record())
    await keys.release(claimed)
    with pytest.raises(ConcurrencyConflict):
        await keys.replace(replace(claimed, status="completed", response_status=200))
    assert (await keys.claim(record()))[1]


async def test_release_frees_the_key_and_releasing_twice_is_silent(keys):
    claimed, _ = await keys.claim(record())
    await keys.release(claimed)
    await keys.release(claimed)
    again, created = await keys.claim(record(fingerprint="body-b"))
    assert created and again.fingerprint == "body-b"


async def test_releasing_a_record_another_request_took_over_is_a_conflict_and_keeps_theirs(keys):
    mine, _ = await keys.claim(record())
    theirs = await keys.replace(replace(mine, fingerprint="body-b", started_at=T0 + timedelta(minutes=1)))
    with pytest.raises(ConcurrencyConflict):
        await keys.release(mine)
    assert (await keys.claim(record()))[0] == theirs


async def test_purge_removes_records_expired_strictly_before_now_up_to_the_limit(keys):
    now = T0 + timedelta(days=2)
    for n, expires in enumerate([now - timedelta(hours=3), now - timedelta(hours=2), now - timedelta(hours=1),
                                 now, now + timedelta(hours=1)]):
        await keys.claim(record(key=f"k{n}", expires_at=expires))
    assert await keys.purge_expired(now, limit=2) == 2
    assert await keys.purge_expired(now, limit=10) == 1
    assert await keys.purge_expired(now, limit=10) == 0
    assert [(await keys.claim(record(key=f"k{n}")))[1] for n in range(5)] == [True, True, True, False, False]

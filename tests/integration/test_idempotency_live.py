"""Idempotency-Key end to end: records in Azurite, requests through the registered functions."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.api_client import call
from tests.support import GROUP_A

pytestmark = pytest.mark.azurite


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_replay_returns_the_stored_response(live, emulator):
    body = {"email": "idem@fabrikam.com", "groups": [GROUP_A]}
    first = await call("invite_guest", "POST", "guests", body, headers=keyed("k-1"))
    emulator.clear_calls()
    again = await call("invite_guest", "POST", "guests", dict(reversed(list(body.items()))), headers=keyed("k-1"))
    assert first[1]["inviteRedeemUrl"] and "inviteRedeemUrl" not in again[1]  # the link is never stored
    assert first[0] == again[0] == 201 and {k: v for k, v in first[1].items() if k != "inviteRedeemUrl"} == again[1]
    assert again[2]["Idempotent-Replay"] == "true" and "Idempotent-Replay" not in first[2]
    assert emulator.calls()["total"] == 0


async def test_same_key_other_body_is_422(live, emulator):
    await call("invite_guest", "POST", "guests", {"email": "a1@fabrikam.com"}, headers=keyed("k-2"))
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "a2@fabrikam.com"}, headers=keyed("k-2"))
    assert status == 422 and body["error"]["code"] == "IdempotencyKeyReused"
    assert emulator.users(mail="a2@fabrikam.com") == []


async def test_concurrent_repeat_while_in_progress_is_409(live, emulator):
    emulator.configure(latencyMs=300)
    results = await asyncio.gather(*(call("invite_guest", "POST", "guests", {"email": "twin@fabrikam.com"},
                                          headers=keyed("k-4")) for _ in range(2)))
    emulator.configure(latencyMs=0)
    assert sorted(status for status, _, _ in results) == [201, 409]
    conflict = next(body for status, body, _ in results if status == 409)
    assert conflict["error"]["code"] == "IdempotencyKeyInProgress"
    assert emulator.count("POST /invitations") == 1


async def test_failed_request_releases_the_key(live, emulator):
    status, _, _ = await call("invite_guest", "POST", "guests", {"email": "bad"}, headers=keyed("k-5"))
    assert status == 400
    status, _, _ = await call("invite_guest", "POST", "guests", {"email": "good@fabrikam.com"}, headers=keyed("k-5"))
    assert status == 201


async def test_keys_expire_after_a_day(live, emulator):
    await call("invite_guest", "POST", "guests", {"email": "old@fabrikam.com"}, headers=keyed("k-6"))
    later = live.clock() + timedelta(hours=25)
    assert await live.idempotency.store.purge_expired(later, 100) >= 1
    status, _, headers = await call("invite_guest", "POST", "guests", {"email": "old@fabrikam.com"},
                                    headers=keyed("k-6"))
    assert status == 200 and "Idempotent-Replay" not in headers


async def test_invalid_key_is_400(live, emulator):
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "x@fabrikam.com"},
                                 headers=keyed("bad key with spaces"))
    assert status == 400 and body["error"]["code"] == "InvalidIdempotencyKey" and emulator.writes() == 0

"""Idempotency-Key on Azurite when storage refuses to release or complete the key: the caller keeps the request's
own answer, and the key in progress lapses after its lease instead of blocking retries for minutes."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.errors import StorageUnavailable
from lifecycle.ports import IdempotencyRecord, IdempotencyStore
from lifecycle.wiring import Services, build_services, container
from tests.api_client import call
from tests.conftest import FAST
from tests.support import MovableClock

pytestmark = pytest.mark.azurite


class ReleaseAndCompleteFail:
    """The real Table idempotency store, except that releasing or completing a key fails as if storage went down."""

    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store
        self.refused: list[str] = []

    async def release(self, record: IdempotencyRecord) -> None:
        self.refused.append("release")
        raise StorageUnavailable("idempotency release: storage is unreachable", retry_after=5)

    async def replace(self, record: IdempotencyRecord) -> IdempotencyRecord:
        if record.status == "completed":
            self.refused.append("complete")
            raise StorageUnavailable("idempotency update: storage is unreachable", retry_after=5)
        return await self._store.replace(record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def refusing_keys(live: Services) -> AsyncIterator[tuple[Services, ReleaseAndCompleteFail, MovableClock]]:
    keys, clock = ReleaseAndCompleteFail(live.idempotency.store), MovableClock()
    services = build_services(live.settings, idempotency_store=keys, tuning=FAST, clock=clock)  # type: ignore[arg-type]
    container.use(lambda: services)
    yield services, keys, clock
    await services.close()


async def test_a_failed_release_keeps_the_403_and_the_key_lapses_after_its_lease(refusing_keys, emulator):
    services, keys, clock = refusing_keys
    emulator.seed_user(mail="member@contoso.com", userType="Member")
    headers = {"Idempotency-Key": "release-fails-1"}
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "member@contoso.com"}, headers=headers)
    assert status == 403 and body["error"]["code"] == "NotAGuest" and keys.refused == ["release"]

    again = await call("invite_guest", "POST", "guests", {"email": "member@contoso.com"}, headers=headers)
    assert again[0] == 409 and again[1]["error"]["code"] == "IdempotencyKeyInProgress"  # within the lease

    assert services.idempotency.lease <= timedelta(minutes=1)
    clock.offset = services.idempotency.lease + timedelta(seconds=1)
    after = await call("invite_guest", "POST", "guests", {"email": "member@contoso.com"}, headers=headers)
    assert after[0] == 403 and after[1]["error"]["code"] == "NotAGuest"


async def test_a_failed_completion_keeps_the_201(refusing_keys, emulator):
    _, keys, _ = refusing_keys
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "done@fabrikam.com"},
                                 headers={"Idempotency-Key": "complete-fails-1"})
    assert status == 201 and body["email"] == "done@fabrikam.com" and keys.refused == ["complete"]


async def test_a_key_in_progress_is_renewed_while_its_request_runs(live):
    import asyncio

    from lifecycle.http.idempotency import _Lease

    store, now = live.idempotency.store, datetime.now(UTC)
    record, created = await store.claim(IdempotencyRecord(key="renewed-1", fingerprint="f", status="in_progress",
                                                          expires_at=now + timedelta(hours=1), started_at=now))
    assert created
    lease = _Lease(store, record, lambda: datetime.now(UTC), timedelta(seconds=0.3))
    async with lease.renewed():
        while lease.record.etag == record.etag:
            await asyncio.sleep(0.05)
    stored, _ = await store.claim(record)
    assert stored.status == "in_progress" and stored.started_at > record.started_at
    assert stored.etag == lease.record.etag  # the last renewal's ETag, so completing the key is not refused

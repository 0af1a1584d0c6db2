"""The storage error mapping on Azurite: a Table 404 is the project's NotFound, never a 503 outage."""
from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from lifecycle.adapters.tables import storage_errors
from lifecycle.domain.model import EmailClaim
from lifecycle.errors import NotFound, StorageUnavailable
from lifecycle.ports import IdempotencyRecord

pytestmark = pytest.mark.azurite


async def test_taking_over_a_claim_that_does_not_exist_is_not_found(live):
    ghost = EmailClaim(email="nobody@fabrikam.com", owner="x", etag='W/"datetime\'2026-01-01T00%3A00%3A00Z\'"')
    with pytest.raises(NotFound) as raised:
        await live.context.store.take_over_claim(ghost)
    assert raised.value.status == 404 and raised.value.code == "RecordNotFound"
    assert not isinstance(raised.value, StorageUnavailable)


async def test_replacing_an_idempotency_record_that_does_not_exist_is_not_found(live):
    keys = live.expiry._keys
    now = live.context.clock()
    record = IdempotencyRecord(key="never-claimed", fingerprint="f", status="completed", expires_at=now,
                               started_at=now, etag='W/"datetime\'2026-01-01T00%3A00%3A00Z\'"')
    with pytest.raises(NotFound):
        await keys.replace(record)


async def test_the_mapping_turns_resource_not_found_into_not_found():
    with pytest.raises(NotFound) as raised:
        async with storage_errors("read"):
            raise ResourceNotFoundError("The specified resource does not exist.")
    assert raised.value.message.startswith("read:")

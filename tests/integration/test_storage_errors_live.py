"""The storage error mapping on Azurite: a Table 404 is the project's NotFound, never a 503 outage."""
from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableServiceClient

from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.errors import NotFound, StorageUnavailable
from lifecycle.ports import GuestQuery

pytestmark = pytest.mark.azurite


async def test_querying_a_table_that_is_gone_is_not_found(live):
    store = live.records.store
    await store.ping()  # the table exists and the store holds its client
    async with TableServiceClient.from_connection_string(live.settings.tables_connection_string) as service:
        await service.delete_table(live.settings.table_name("guests"))
    with pytest.raises(NotFound) as raised:
        await store.query(GuestQuery(page_size=10))
    assert raised.value.status == 404 and raised.value.code == "RecordNotFound"
    assert not isinstance(raised.value, StorageUnavailable)


async def test_the_mapping_turns_resource_not_found_into_not_found():
    with pytest.raises(NotFound) as raised:
        async with storage_errors("read"):
            raise ResourceNotFoundError("The specified resource does not exist.")
    assert raised.value.message.startswith("read:") and raised.value.status == 404

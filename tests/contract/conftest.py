"""Fixtures of the contract tier: every port's suite runs on the in-memory adapter and on the real one.

`adapter` is "memory" or "table" (Table Storage and the Storage Queue on Azurite, each test on tables and a queue of
its own), so a fake cannot drift from what the real adapter does."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from lifecycle.adapters.memory import (
    InMemoryAuditLog,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore
from lifecycle.adapters.tables.audit import TableAuditLog
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.idempotency import TableIdempotencyStore
from lifecycle.adapters.tables.runs import TableRunStore
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings
from lifecycle.ports import AuditLog, GuestStore, IdempotencyStore, RunStore
from tests.support import app_environment

UNREACHABLE_GRAPH = "http://127.0.0.1:9"


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.azurite)])
def adapter(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def storage_settings(request: pytest.FixtureRequest, adapter: str) -> Settings | None:
    """Settings naming tables and a queue no other test uses (None for the in-memory adapters)."""
    if adapter == "memory":
        return None
    azurite = request.getfixturevalue("azurite")
    return Settings.from_env(app_environment(azurite.connection_string, UNREACHABLE_GRAPH,
                                             LIFECYCLE_EVENTS_QUEUE="c" + uuid.uuid4().hex[:12]))


@pytest.fixture
async def tables(storage_settings: Settings | None) -> AsyncIterator[LifecycleTables | None]:
    if storage_settings is None:
        yield None
        return
    handle = LifecycleTables(build_service_client(storage_settings, None), storage_settings)
    yield handle
    await handle.close()


@pytest.fixture
def store(tables: LifecycleTables | None) -> GuestStore:
    return InMemoryGuestStore() if tables is None else TableGuestStore(tables)


@pytest.fixture
def keys(tables: LifecycleTables | None) -> IdempotencyStore:
    return InMemoryIdempotencyStore() if tables is None else TableIdempotencyStore(tables)


@pytest.fixture
def audit(tables: LifecycleTables | None) -> AuditLog:
    return InMemoryAuditLog() if tables is None else TableAuditLog(tables)


@pytest.fixture
def runs(tables: LifecycleTables | None) -> RunStore:
    return InMemoryRunStore() if tables is None else TableRunStore(tables)

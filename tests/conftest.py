"""Fixtures for every tier. Integration fixtures start Azurite and the Graph emulator once per session."""
from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import GROUP_A, GROUP_B, GROUP_UNMANAGED, ROOT, Azurite, MovableClock, app_environment

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from graph_emulator import EmulatorControl  # noqa: E402
from lifecycle.adapters.memory import (  # noqa: E402
    InMemoryAuditLog,
    InMemoryDirectory,
    InMemoryEventPublisher,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore  # noqa: E402
from lifecycle.config import Settings, Tuning  # noqa: E402
from lifecycle.wiring import Services, build_services, container  # noqa: E402

FAST = Tuning(claim_wait_seconds=10.0, claim_poll_seconds=0.1, claim_stale_seconds=60.0, lag_retry_seconds=4.0,
              lag_first_delay=0.2, graph_retry_attempts=6, graph_retry_budget_seconds=15.0)


# --- in-memory tier --------------------------------------------------------------------------------
@dataclass
class Fakes:
    settings: Settings
    store: InMemoryGuestStore
    directory: InMemoryDirectory
    audit: InMemoryAuditLog
    publisher: InMemoryEventPublisher
    keys: InMemoryIdempotencyStore
    clock: MovableClock
    services: Services
    runs: InMemoryRunStore


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    settings = Settings.from_env({"MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}", "GRAPH_BASE_URL": "http://127.0.0.1:9",
                                  "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    store, directory, audit = InMemoryGuestStore(), InMemoryDirectory(), InMemoryAuditLog()
    publisher, keys = InMemoryEventPublisher(), InMemoryIdempotencyStore()
    directory.add_group(GROUP_A)
    directory.add_group(GROUP_B)
    clock, runs = MovableClock(), InMemoryRunStore()
    services = build_services(settings, store=store, directory=directory, audit=audit, publisher=publisher,
                              idempotency_store=keys,
                              tuning=Tuning(lag_retry_seconds=0.3, lag_first_delay=0.05, claim_wait_seconds=0.5),
                              clock=clock, runs=runs)
    container.use(lambda: services)
    yield Fakes(settings, store, directory, audit, publisher, keys, clock, services, runs)
    container.reset()


@pytest.fixture
def entra(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """LIFECYCLE_HTTP_AUTH=entra behind App Service authentication, with no roles, clients or principals granted."""
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    for name in ("LIFECYCLE_HTTP_ROLES", "LIFECYCLE_HTTP_ALLOWED_CLIENTS", "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- integration tier ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Any]:
    from graph_emulator.server import EmulatorServer

    server = EmulatorServer(port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: Any) -> Iterator[EmulatorControl]:
    """The emulator's own control client, on a reset emulator holding the test groups."""
    control = emulator_server.control
    control.reset()
    for group_id in (GROUP_A, GROUP_B, GROUP_UNMANAGED):
        control.seed_group(id=group_id, displayName="group")
    yield control
    control.reset()


@pytest.fixture
def live_env(azurite: Azurite, emulator: EmulatorControl) -> dict[str, str]:
    return app_environment(azurite.connection_string, emulator.graph_url)


@pytest.fixture
def live_settings(live_env: dict[str, str]) -> Settings:
    return Settings.from_env(live_env)


@pytest.fixture
async def live(live_settings: Settings) -> AsyncIterator[Services]:
    """Services on real adapters (Azurite + the emulator over HTTP), installed in the container."""
    services = build_services(live_settings, tuning=FAST)
    container.use(lambda: services)
    yield services
    await services.close()
    container.reset()


@pytest.fixture
async def app(live_env):
    """Services on Azurite and the emulator at a movable clock, with settings a test chooses (`app(NAME="value")`),
    installed to serve HTTP calls."""
    built = []

    def make(**env: str):
        services = build_services(Settings.from_env({**live_env, **env}), tuning=FAST, clock=MovableClock())
        container.use(lambda: services)
        built.append(services)
        return services

    yield make
    container.reset()
    for services in built:
        await services.close()


@pytest.fixture
async def stopped_storage(emulator: EmulatorControl) -> AsyncIterator[Services]:
    """Services whose Azurite was stopped after the tables were made: storage is down, Graph is up."""
    azurite = Azurite().start()
    settings = Settings.from_env(app_environment(azurite.connection_string, emulator.graph_url))
    services = build_services(settings, tuning=FAST)
    container.use(lambda: services)
    await services.records.store.ping()  # the tables exist while Azurite runs
    azurite.stop()
    yield services
    await services.close()
    container.reset()

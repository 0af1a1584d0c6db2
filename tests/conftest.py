"""Fixtures for every tier. Integration fixtures start Azurite and the Graph emulator once per session."""
from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import GROUP_A, GROUP_B, GROUP_UNMANAGED, ROOT, Azurite, app_environment

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lifecycle.adapters.memory import (  # noqa: E402
    InMemoryAuditLog, InMemoryDirectory, InMemoryEventPublisher, InMemoryGuestStore, InMemoryIdempotencyStore,
)
from lifecycle.config import Settings  # noqa: E402
from lifecycle.services.context import Tuning  # noqa: E402
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
    services: Services


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    settings = Settings.from_env({"MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}", "GRAPH_BASE_URL": "http://127.0.0.1:9",
                                  "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    store, directory, audit = InMemoryGuestStore(), InMemoryDirectory(), InMemoryAuditLog()
    publisher, keys = InMemoryEventPublisher(), InMemoryIdempotencyStore()
    directory.add_group(GROUP_A)
    directory.add_group(GROUP_B)
    services = build_services(settings, store=store, directory=directory, audit=audit, publisher=publisher, keys=keys,
                              tuning=Tuning(lag_retry_seconds=0.3, lag_first_delay=0.05, claim_wait_seconds=0.5))
    container.use(lambda: services)
    yield Fakes(settings, store, directory, audit, publisher, keys, services)
    container.reset()


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


class EmulatorControl:
    """The Graph emulator's control API, as the tests use it."""

    def __init__(self, url: str, graph_url: str) -> None:
        self.url = url
        self.graph_url = graph_url
        self._http = httpx.Client(base_url=f"{url}/_emulator", timeout=10)

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self._ok(self._http.post("/reset"))

    def configure(self, **switches: Any) -> dict[str, Any]:
        return self._ok(self._http.patch("/config", json=switches))

    def calls(self) -> dict[str, Any]:
        return self._ok(self._http.get("/calls"))

    def count(self, route: str) -> int:
        return self.calls()["counts"].get(route, 0)

    def writes(self) -> int:
        return self.calls()["writes"]

    def seed_user(self, **user: Any) -> dict[str, Any]:
        return self._ok(self._http.post("/users", json=user))

    def seed_group(self, group_id: str, name: str = "group") -> None:
        self._ok(self._http.post("/groups", json={"id": group_id, "displayName": name}))

    def user(self, user_id: str) -> dict[str, Any]:
        return self._ok(self._http.get(f"/users/{user_id}"))

    def users_by_mail(self, mail: str) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/users", params={"mail": mail}))

    def members(self, group_id: str) -> list[str]:
        return self._ok(self._http.get(f"/groups/{group_id}/members"))

    def redeem(self, user_id: str) -> None:
        self._ok(self._http.post(f"/users/{user_id}/redeem"))

    def age_deletion(self, user_id: str, days: int) -> None:
        self._ok(self._http.post(f"/users/{user_id}/age-deletion", json={"days": days}))

    def remove_user(self, user_id: str) -> None:
        self._ok(self._http.delete(f"/users/{user_id}"))

    def update_user(self, user_id: str, **props: Any) -> dict[str, Any]:
        return self._ok(self._http.patch(f"/users/{user_id}", json=props))

    def clear_calls(self) -> None:
        self._ok(self._http.delete("/calls"))

    def seed_users(self, users: list[dict[str, Any]] | None = None, count: int = 0, **template: Any) -> list[str]:
        """Many users in one call: `users` (user bodies) and/or `count` generated from `template` (Graph property
        names, `memberOf`, `sponsors`, `signInActivity`; strings may hold `{n}`); returns the new ids in order."""
        body = {"users": users or [], "count": count, "template": template}
        return self._ok(self._http.post("/users/bulk", json=body))["ids"]

    def add_members(self, group_id: str, member_ids: list[str]) -> list[str]:
        """Add users or groups (nested groups) to a group; returns its member ids."""
        return self._ok(self._http.post(f"/groups/{group_id}/members", json={"ids": member_ids}))

    def identity(self) -> dict[str, Any]:
        """The managed identity the emulator's /msi/token serves, and the tokens issued per resource."""
        return self._ok(self._http.get("/identity"))


@pytest.fixture
def emulator(emulator_server: Any) -> Iterator[EmulatorControl]:
    control = EmulatorControl(emulator_server.url, emulator_server.graph_url)
    control.reset()
    for group_id in (GROUP_A, GROUP_B, GROUP_UNMANAGED):
        control.seed_group(group_id)
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

"""GET /api/health reports statuses (never a setting's value): the settings, whether a Graph token can be had (asked
of the credential, never Graph) and whether storage answers. A storage setting the SDK cannot use is a 503 naming
it on every route; a sweep whose directory pass fails, or that cannot start, ends in a report.

The credentials are fakes of azure-core's AsyncTokenCredential protocol, behind the app's own BoundedCredential."""
from __future__ import annotations

import json
import time

import pytest
from azure.core.exceptions import ClientAuthenticationError

from lifecycle.adapters.identity import BoundedCredential, GraphTokenCheck
from lifecycle.adapters.memory import (
    InMemoryAuditLog,
    InMemoryDirectory,
    InMemoryEventPublisher,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore
from lifecycle.config import Settings, Tuning
from lifecycle.errors import ConfigurationError, IdentityUnavailable
from lifecycle.timer.expiry_timer import run_sweep
from lifecycle.wiring import Services, build_services, container
from tests.api_client import call
from tests.fake_credentials import FakeCredential
from tests.support import GROUP_A, GROUP_B

CLOUD = {"GRAPH_AUTH": "managed-identity", "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def services_with(credential: FakeCredential, *, check_seconds: float = 2.0, directory=None) -> Services:
    """Fakes for storage and the directory; the Graph token asked of `credential` (production's settings)."""
    settings = Settings.from_env(CLOUD)
    return build_services(settings, store=InMemoryGuestStore(), directory=directory or InMemoryDirectory(),
                          audit=InMemoryAuditLog(), publisher=InMemoryEventPublisher(),
                          idempotency_store=InMemoryIdempotencyStore(),
                          tuning=Tuning(health_check_seconds=check_seconds), runs=InMemoryRunStore(),
                          token_check=GraphTokenCheck(settings, BoundedCredential(credential, 10)))


@pytest.fixture
def serving():
    def use(services: Services) -> Services:
        container.use(lambda: services)
        return services

    yield use
    container.reset()


async def test_health_in_development_token_mode_says_so_and_shows_no_setting_value(fakes):
    status, body, _ = await call("health", "GET", "health")
    assert status == 200 and body["status"] == "healthy"
    assert body["checks"]["graph"] == {"baseUrl": "configured", "auth": "development-token",
                                       "token": "development-token"}
    assert body["checks"]["storage"] == "ok" and body["checks"]["managedGroups"] == {"count": 2, "problems": []}
    assert "127.0.0.1" not in json.dumps(body) and "UseDevelopmentStorage" not in json.dumps(body)


async def test_health_asks_the_credential_for_a_graph_token_and_never_graph(serving):
    credential, directory = FakeCredential("t0k3n"), InMemoryDirectory()
    serving(services_with(credential, directory=directory))
    for _ in range(2):
        status, body, _ = await call("health", "GET", "health")
        assert status == 200 and body["checks"]["graph"]["token"] == "ok"
    assert credential.asked == [("https://graph.microsoft.com/.default",)] * 2  # its cache answers, in production
    assert directory.writes == [] and body["checks"]["graph"]["auth"] == "managed-identity"
    assert "graph.microsoft.com" not in json.dumps(body)


async def test_health_without_a_graph_token_is_503_naming_what_to_check(serving):
    serving(services_with(FakeCredential(ClientAuthenticationError("no identity"))))
    status, body, headers = await call("health", "GET", "health")
    assert status == 503 and body["status"] == "unhealthy" and int(headers["Retry-After"]) > 0
    token = body["checks"]["graph"]["token"]
    assert token.startswith("token check: no access token for Microsoft Graph")
    assert all(name in token for name in ("managed identity", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT"))
    assert body["checks"]["storage"] == "ok"


async def test_health_answers_within_its_check_time_when_the_identity_never_answers(serving):
    serving(services_with(FakeCredential(None), check_seconds=0.3))
    started = time.monotonic()
    status, body, _ = await call("health", "GET", "health")
    assert time.monotonic() - started < 3
    assert status == 503 and "within 0.3 s" in body["checks"]["graph"]["token"]


@pytest.mark.parametrize(("name", "value"), [
    ("LIFECYCLE_TABLES_CONNECTION_STRING", "AccountName=x;AccountKey=c2VjcmV0;garbage"),
    ("LIFECYCLE_TABLES_CONNECTION_STRING", "not a connection string"),
    ("LIFECYCLE_TABLES_ENDPOINT", "https://account.table.core.windows.net:port7"),
    ("LIFECYCLE_QUEUES_ENDPOINT", "https://account.queue.core.windows.net:port7"),
])
async def test_a_storage_setting_that_cannot_be_used_is_503_naming_it_everywhere(name, value, monkeypatch):
    monkeypatch.setenv("GRAPH_BASE_URL", "http://127.0.0.1:9/v1.0")
    monkeypatch.setenv("LIFECYCLE_TABLES_ENDPOINT", "https://account.table.core.windows.net")
    monkeypatch.setenv(name, value)
    container.reset()
    try:
        status, body, _ = await call("health", "GET", "health")
        assert status == 503 and body["status"] == "unhealthy" and name in body["checks"]["settings"]
        assert value not in json.dumps(body) and "c2VjcmV0" not in json.dumps(body)
        status, body, _ = await call("list_guests", "GET", "guests")
        assert status == 503 and body["error"]["code"] == "ConfigurationError" and name in body["error"]["message"]
        assert "c2VjcmV0" not in json.dumps(body)
    finally:
        container.reset()


async def test_health_names_an_invalid_setting_without_its_value(monkeypatch):
    monkeypatch.setenv("MANAGED_GROUP_IDS", "group-finance")
    container.reset()
    try:
        status, body, _ = await call("health", "GET", "health")
    finally:
        container.reset()
    assert status == 503 and "MANAGED_GROUP_IDS" in body["checks"]["settings"]
    assert "group-finance" not in json.dumps(body)


class DirectoryWithoutToken(InMemoryDirectory):
    """A directory whose pass fails as the Graph adapter fails without a token."""

    def __init__(self, failure: Exception) -> None:
        super().__init__()
        self.failure = failure

    async def scan_guests(self, on_page, *, sign_in_activity: bool, sponsors: bool = False):
        raise self.failure


@pytest.mark.parametrize("failure", [
    IdentityUnavailable("list guests: no access token for Microsoft Graph (the managed-identity endpoint could not "
                        "be reached). Check that a managed identity is assigned to the function app"),
    RuntimeError("a defect in the pass"),
], ids=["no token", "unexpected"])
async def test_a_sweep_whose_directory_pass_fails_ends_in_a_report(serving, failure):
    serving(services_with(FakeCredential("t0k3n"), directory=DirectoryWithoutToken(failure)))
    report = await run_sweep(close=False)
    assert report.failed and report.finished_at
    assert report.failures[0]["action"] == "directory pass" and report.failures[0]["guestId"] == "-"
    assert str(failure) in report.failures[0]["reason"]


async def test_a_sweep_that_cannot_start_ends_in_a_report(serving):
    def unbuildable() -> Services:
        raise ConfigurationError("LIFECYCLE_TABLES_CONNECTION_STRING cannot be used",
                                 settings=("LIFECYCLE_TABLES_CONNECTION_STRING",))

    container.use(unbuildable)
    report = await run_sweep(close=False)
    assert report.failed and report.failures[0]["action"] == "start"
    assert "LIFECYCLE_TABLES_CONNECTION_STRING" in report.failures[0]["reason"]


async def test_health_names_by_position_the_managed_groups_graph_lacks_or_will_not_change(fakes):
    # groups-overview.md: mail-enabled security groups and distribution lists are read-only in Graph
    fakes.directory.read_only_groups[GROUP_B] = "the group is a mail-enabled security group or a distribution list"
    del fakes.directory.groups[GROUP_A]
    status, body, _ = await call("health", "GET", "health")
    problems = body["checks"]["managedGroups"]["problems"]
    assert status == 200 and body["status"] == "healthy"
    assert problems == [{"position": 1, "problem": "the group does not exist"},
                        {"position": 2, "problem": fakes.directory.read_only_groups[GROUP_B]}]
    assert GROUP_A not in json.dumps(body) and GROUP_B not in json.dumps(body)

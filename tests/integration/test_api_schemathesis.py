"""Property-based test of the whole HTTP API against its own OpenAPI document (schemathesis).

The app is served by uvicorn exactly as `python -m lifecycle serve` serves it, on Azurite and the Graph emulator.
Generated requests, valid and invalid, go to every documented operation; no answer may be a server error, use an
undocumented status code, or break the documented response schema."""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import function_app
from devserver.asgi import build_asgi_app
from lifecycle.config import Settings, Tuning
from lifecycle.wiring import build_services, container
from tests.support import GROUP_A, free_port

pytestmark = pytest.mark.azurite

KEY = "schemathesis-key"
EXAMPLES_PER_OPERATION = 40
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance,
          response_headers_conformance]
TUNING = Tuning(claim_wait_seconds=2.0, claim_poll_seconds=0.05, lag_retry_seconds=1.0, lag_first_delay=0.05,
                graph_retry_attempts=2, graph_retry_budget_seconds=2.0)


class BackgroundServer:
    """uvicorn serving the app in a thread with its own event loop, as `python -m lifecycle serve` does."""

    def __init__(self, port: int) -> None:
        config = uvicorn.Config(build_asgi_app(function_app.app, KEY), host="127.0.0.1", port=port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        finally:
            await container.close_current()

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def api(live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of the app, configured from `live_env` (Azurite, the emulator, a fresh table prefix)."""
    for name, value in live_env.items():
        monkeypatch.setenv(name, value)
    container.use(lambda: build_services(Settings.from_env(live_env), tuning=TUNING))
    try:
        with BackgroundServer(free_port()) as server:
            yield server.url
    finally:
        container.reset()


def seed_guest(base_url: str, number: int) -> str:
    """Invite a guest, in GROUP_A, so that `{id}` routes also meet a real record."""
    response = httpx.post(f"{base_url}/api/guests", headers={"x-functions-key": KEY}, timeout=30,
                          json={"email": f"seeded.{number}@fabrikam.com", "displayName": "Seeded", "groups": [GROUP_A]})
    assert response.status_code in (200, 201, 202), response.text
    return response.json()["id"]


def strategy_for(operation: Any, guest_id: str) -> st.SearchStrategy[Any]:
    """Valid and invalid cases; for `{id}` routes, some of them aimed at the seeded guest and GROUP_A."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = {parameter.name for parameter in operation.path_parameters}
    if "id" in names:
        known = {"id": guest_id, **({"groupId": GROUP_A} if "groupId" in names else {})}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    return st.one_of(strategies)


def run_operation(operation: Any, guest_id: str, base_url: str) -> None:
    """Send EXAMPLES_PER_OPERATION generated requests to one operation and run the checks on each answer."""

    @given(case=strategy_for(operation, guest_id))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def send(case: Any) -> None:
        # A generated framing header (content-length, transfer-encoding, host, connection) makes a request the HTTP
        # server refuses before the app sees it (uvicorn here, the Functions host in Azure): it tests the server,
        # not the API, so such cases are not sent.
        assume(not FRAMING_HEADERS.intersection(name.lower() for name in (case.headers or {})))
        case.call_and_validate(base_url=f"{base_url}/api", headers={"x-functions-key": KEY}, checks=CHECKS,
                               timeout=30)

    send()


def test_generated_requests_get_documented_answers(api: str) -> None:
    served = httpx.get(f"{api}/api/openapi.json", timeout=30)
    assert served.status_code == 200 and served.json()["servers"] == [{"url": f"{api}/api"}]
    schema = schemathesis.openapi.from_dict(served.json())
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    for number, operation in enumerate(operations):
        try:
            run_operation(operation, seed_guest(api, number), api)
        except Exception as exc:  # noqa: BLE001 - every operation runs; all failures are reported together
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)

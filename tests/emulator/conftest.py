"""Fixtures of the emulator's own tests: one emulator per session over real HTTP, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient

from graph_emulator import EmulatorControl, EmulatorServer

TOKEN = "emulator-test-token"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(host="127.0.0.1", port=0, seed=7) as server:
        yield server


@pytest.fixture
def emu(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset to its start state."""
    emulator_server.control.reset()
    return emulator_server


@pytest.fixture
def control(emu: EmulatorServer) -> EmulatorControl:
    return emu.control


@pytest.fixture
def graph(emu: EmulatorServer) -> Iterator[httpx.Client]:
    """An authenticated HTTP client rooted at the emulator's Graph root."""
    with httpx.Client(base_url=emu.graph_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        yield client


@pytest.fixture
def group(control: EmulatorControl) -> dict:
    return control.seed_group(displayName="Partners")


@pytest.fixture
def invite(graph: httpx.Client):
    """POST /invitations for an email; returns the response."""
    def send(email: str, **extra) -> httpx.Response:
        body = {"invitedUserEmailAddress": email, "inviteRedirectUrl": "https://myapps.microsoft.com", **extra}
        return graph.post("/invitations", json=body)
    return send


class StaticToken(AccessTokenProvider):
    """A fixed development token for loopback hosts."""

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict | None = None) -> str:
        return "development-token"

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


@pytest.fixture
def sdk(emu: EmulatorServer) -> GraphServiceClient:
    """msgraph-sdk's own client, rooted at the emulator, with a fixed token."""
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken()))
    adapter.base_url = emu.graph_url
    return GraphServiceClient(request_adapter=adapter)

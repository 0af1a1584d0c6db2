"""The Graph client as Azure builds it: the managed identity's provider, restricted to the Graph host."""
from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken

from lifecycle.adapters.credentials import graph_auth_provider
from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.config import Settings


class RecordingCredential:
    """An async token credential that records the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("token-for-" + scopes[0], 4102444800)

    async def close(self) -> None:
        pass


async def test_the_graph_client_builds_for_the_global_cloud_host() -> None:
    directory = GraphDirectory(Settings.from_env({}), credential=RecordingCredential())  # type: ignore[arg-type]
    await directory.close()


async def test_the_token_goes_to_the_graph_host_for_its_scope_and_nowhere_else() -> None:
    credential = RecordingCredential()
    provider = graph_auth_provider(Settings.from_env({}), credential)  # type: ignore[arg-type]
    token_provider = provider.access_token_provider
    graph = await token_provider.get_authorization_token("https://graph.microsoft.com/v1.0/users")
    elsewhere = await token_provider.get_authorization_token("https://example.com/v1.0/users")
    assert graph == "token-for-https://graph.microsoft.com/.default" and elsewhere == ""
    assert credential.scopes == [("https://graph.microsoft.com/.default",)]


async def test_a_national_cloud_gets_its_own_scope() -> None:
    credential = RecordingCredential()
    provider = graph_auth_provider(Settings.from_env({"GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0"}),
                                   credential)  # type: ignore[arg-type]
    await provider.access_token_provider.get_authorization_token("https://graph.microsoft.us/v1.0/users")
    assert credential.scopes == [("https://graph.microsoft.us/.default",)]

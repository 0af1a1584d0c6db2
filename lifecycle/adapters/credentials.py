"""Credentials: the managed identity in Azure, DefaultAzureCredential elsewhere, a fixed token for a loopback Graph.

One credential serves every client of a worker (Graph, tables, queue), so each resource's token is fetched once and
then served from the credential's cache until it nears expiry.
"""
from __future__ import annotations

import os
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider, AllowedHostsValidator, AuthenticationProvider, BaseBearerTokenAuthenticationProvider,
)
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider

from lifecycle.config import Settings

STORAGE_SCOPE = "https://storage.azure.com/.default"
DEVELOPMENT_TOKEN = "guest-lifecycle-development-token"


def platform_identity_endpoint() -> bool:
    """The App Service / Functions managed-identity endpoint is there (IDENTITY_ENDPOINT, set by the platform)."""
    return bool(os.environ.get("IDENTITY_ENDPOINT"))


def azure_credential(settings: Settings) -> AsyncTokenCredential:
    """ManagedIdentityCredential where the platform offers its identity endpoint, else DefaultAzureCredential."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if platform_identity_endpoint():
        return ManagedIdentityCredential(client_id=settings.azure_client_id or None)
    return DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id or None)


class StaticTokenProvider(AccessTokenProvider):
    """Hands out a fixed development token, only to the configured loopback host."""

    def __init__(self, host: str, token: str = DEVELOPMENT_TOKEN) -> None:
        self._validator = AllowedHostsValidator([host])
        self._token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def graph_auth_provider(settings: Settings, credential: AsyncTokenCredential | None) -> AuthenticationProvider:
    """The provider for the Graph request adapter: the token goes to the Graph host only, for its cloud's scope.

    Raises ValueError when the managed identity is wanted and no credential is given."""
    if settings.graph_uses_development_token:
        return BaseBearerTokenAuthenticationProvider(StaticTokenProvider(settings.graph_host))
    if credential is None:
        raise ValueError("the Graph client needs a credential unless GRAPH_AUTH is development-token")
    return AzureIdentityAuthenticationProvider(credential, scopes=[settings.graph_scope],
                                               allowed_hosts=[settings.graph_host])


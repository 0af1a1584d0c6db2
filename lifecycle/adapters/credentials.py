"""Credentials: the managed identity in Azure, DefaultAzureCredential locally, a fixed token for a loopback Graph."""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider, AllowedHostsValidator, AuthenticationProvider, BaseBearerTokenAuthenticationProvider,
)

from lifecycle.config import Settings

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEVELOPMENT_TOKEN = "guest-lifecycle-development-token"


def running_in_azure() -> bool:
    return bool(os.environ.get("WEBSITE_INSTANCE_ID") or os.environ.get("IDENTITY_ENDPOINT"))


def azure_credential(settings: Settings) -> AsyncTokenCredential:
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if running_in_azure():
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


def graph_auth_provider(settings: Settings) -> tuple[AuthenticationProvider, AsyncTokenCredential | None]:
    """The provider for the Graph request adapter, and the credential to close with it (if any)."""
    if settings.graph_is_loopback:
        host = urlsplit(settings.graph_base_url).hostname or ""
        return BaseBearerTokenAuthenticationProvider(StaticTokenProvider(host)), None
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    credential = azure_credential(settings)
    return AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE]), credential

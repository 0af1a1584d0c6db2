"""Credentials: the managed identity in Azure, DefaultAzureCredential elsewhere, a fixed token for a loopback Graph.

One credential serves every client of a worker (Graph, tables, queue), so each resource's token is fetched once and
then served from the credential's cache until it nears expiry. Every token request is bounded in time (`Tuning`:
connect, read, and the whole request with its retries): a managed-identity endpoint that never answers fails the
request (IdentityUnavailable, 503) instead of holding it for minutes.
"""
from __future__ import annotations

import os
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider

from lifecycle.adapters.identity import DEVELOPER_CHECKS, MANAGED_IDENTITY_CHECKS, BoundedCredential
from lifecycle.config import Settings, Tuning

STORAGE_SCOPE = "https://storage.azure.com/.default"
DEVELOPMENT_TOKEN = "guest-lifecycle-development-token"


def platform_identity_endpoint() -> bool:
    """The App Service / Functions managed-identity endpoint is there (IDENTITY_ENDPOINT, set by the platform)."""
    return bool(os.environ.get("IDENTITY_ENDPOINT"))


def token_transport(tuning: Tuning) -> dict[str, Any]:
    """azure-identity's keywords for its token requests' pipeline (azure-core's transport and retry policy): connect
    and read timeouts, one retry, and the whole request's own bound. Without them a silent endpoint holds a request
    300 s per read, and an endpoint answering errors is retried 10 times with backoff."""
    return {"connection_timeout": tuning.token_connect_seconds, "read_timeout": tuning.token_read_seconds,
            "retry_total": 1, "retry_backoff_max": 1, "timeout": tuning.token_timeout_seconds}


def azure_credential(settings: Settings, tuning: Tuning | None = None) -> BoundedCredential:
    """ManagedIdentityCredential where the platform offers its identity endpoint, else DefaultAzureCredential; each
    token request ends within `tuning.token_timeout_seconds` (BoundedCredential: a failure is TokenUnavailable,
    and the same token is not asked for again for `tuning.token_retry_after_seconds`)."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    tuning = tuning or Tuning()
    transport = token_transport(tuning)
    if platform_identity_endpoint():
        return BoundedCredential(ManagedIdentityCredential(client_id=settings.azure_client_id or None, **transport),
                                 tuning.token_timeout_seconds, retry_after=tuning.token_retry_after_seconds)
    return BoundedCredential(
        DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id or None, **transport),
        tuning.token_timeout_seconds, retry_after=tuning.token_retry_after_seconds, source="DefaultAzureCredential",
        checks=f"{DEVELOPER_CHECKS} {MANAGED_IDENTITY_CHECKS}")


class StaticTokenProvider(AccessTokenProvider):
    """Hands out a fixed development token, only to the configured loopback host."""

    def __init__(self, host: str, token: str = DEVELOPMENT_TOKEN) -> None:
        self._validator = AllowedHostsValidator([host])
        self._token = token

    async def get_authorization_token(self, uri: str,
                                      additional_authentication_context: dict[str, Any] | None = None) -> str:
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


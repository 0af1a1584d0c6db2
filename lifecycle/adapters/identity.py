"""The app's identity as the adapters see it: token requests bounded in time, and a failed one as the product's
IdentityUnavailable (503) with what an operator should check.

`BoundedCredential` wraps azure-identity's credential: every token request ends within its timeout (the credential's
own retries and Retry-After waits included), and every failure is a `TokenUnavailable`, a CredentialUnavailableError,
which azure-core's pipelines never retry. The adapters turn it (or a raw azure-identity error) into
IdentityUnavailable: `identity_unavailable()` (Graph, storage, the queue, the health check).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.identity import CredentialUnavailableError

from lifecycle.config import Settings
from lifecycle.errors import IdentityUnavailable
from lifecycle.logs import get_logger

T = TypeVar("T")
log = get_logger("lifecycle.identity")
RETRY_AFTER = 10
MANAGED_IDENTITY = "the managed-identity endpoint"
MANAGED_IDENTITY_CHECKS = (
    "Check that a managed identity is assigned to the function app, that AZURE_CLIENT_ID is empty for the "
    "system-assigned identity or the client id of a user-assigned identity assigned to the app, and that the "
    "identity endpoint the platform sets in IDENTITY_ENDPOINT answers from the app.")
DEVELOPER_CHECKS = (
    "Outside Azure (no IDENTITY_ENDPOINT) the app uses DefaultAzureCredential: sign in with `az login`, or set "
    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET of a service principal.")
GRAPH = "Microsoft Graph"
STORAGE = "Azure Storage"
DEVELOPMENT_TOKEN_STATUS = "development-token"
TOKEN_OK = "ok"
NOT_USED = "not used"


class TokenUnavailable(CredentialUnavailableError):
    """A token request that failed or did not end in time, as BoundedCredential raises it (chained to the original).
    `reason` says what happened and `checks` what to check, in words without secrets."""

    def __init__(self, reason: str, checks: str) -> None:
        super().__init__(message=reason)
        self.reason = reason
        self.checks = checks


class BoundedCredential:
    """An AsyncTokenCredential (and AsyncSupportsTokenInfo) around another: each token request ends within `timeout`
    seconds; a failure raises TokenUnavailable, and is remembered for `retry_after` seconds, during which requests
    for the same token fail at once (one request's storage and cleanup calls, the queue's retries, many requests in
    a row: each would wait the whole bound again). Tokens still come from the inner credential's cache until they
    near expiry, so a bound costs nothing once a token is held."""

    def __init__(self, inner: AsyncTokenCredential, timeout: float, *, retry_after: float = 10.0,
                 source: str = MANAGED_IDENTITY, checks: str = MANAGED_IDENTITY_CHECKS) -> None:
        self._inner = inner
        self._timeout = timeout
        self._retry_after = retry_after
        self._source = source
        self._checks = checks
        self._failures: dict[tuple[str, ...], tuple[float, str]] = {}  # scopes -> (when, reason)

    @property
    def inner(self) -> AsyncTokenCredential:
        """The credential whose token requests this one bounds."""
        return self._inner

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        return await self._bounded(scopes, self._timeout, lambda: self._inner.get_token(
            *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs))

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        get_token_info = getattr(self._inner, "get_token_info", None)
        if get_token_info is not None:
            info: AccessTokenInfo = await self._bounded(scopes, self._timeout,
                                                        lambda: get_token_info(*scopes, options=options))
            return info
        options = options or {}
        token = await self.get_token(*scopes, claims=options.get("claims"), tenant_id=options.get("tenant_id"),
                                     enable_cae=options.get("enable_cae", False))
        return AccessTokenInfo(token.token, token.expires_on)

    async def check(self, scope: str, within: float) -> None:
        """Ask for a token for `scope` (from the cache once one is held) within `within` seconds (at most the
        credential's own bound); TokenUnavailable when none can be had. Running out of `within` alone is not
        remembered: a slow endpoint fails the check, not the requests after it."""
        await self._bounded((scope,), min(within, self._timeout), lambda: self._inner.get_token(scope),
                            remember_timeout=within >= self._timeout)

    async def _bounded(self, scopes: tuple[str, ...], timeout: float, request: Callable[[], Awaitable[T]], *,
                       remember_timeout: bool = True) -> T:
        self._refuse_if_failed_lately(scopes)
        try:
            async with asyncio.timeout(timeout):
                result = await request()
        except TimeoutError as exc:
            reason = f"{self._source} did not answer within {timeout:g} s"
            raise self._failed(scopes, reason, exc, remember=remember_timeout) from exc
        except AzureError as exc:
            raise self._failed(scopes, describe(exc, self._source), exc) from exc
        self._failures.pop(scopes, None)
        return result

    def _refuse_if_failed_lately(self, scopes: tuple[str, ...]) -> None:
        when, reason = self._failures.get(scopes, (None, ""))
        if when is not None and (age := time.monotonic() - when) < self._retry_after:
            raise TokenUnavailable(f"{reason}, {age:.0f} s ago (asked again {self._retry_after - age:.0f} s from "
                                   "now)", self._checks)

    def _failed(self, scopes: tuple[str, ...], reason: str, exc: BaseException, *,
                remember: bool = True) -> TokenUnavailable:
        log.warning("no token", scopes=" ".join(scopes), reason=reason, errorType=type(exc).__name__,
                    error=str(exc).splitlines()[0][:300] if str(exc) else "")
        if remember:
            self._failures[scopes] = (time.monotonic(), reason)
        return TokenUnavailable(reason, self._checks)

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> BoundedCredential:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self._inner.__aexit__(*args)


def describe(exc: BaseException, source: str = MANAGED_IDENTITY) -> str:
    """What went wrong with a token request, from azure-identity's (or azure-core's) error, without its text."""
    if isinstance(exc, (TimeoutError, ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return f"{source} did not answer in time"
    if isinstance(exc, ServiceRequestError):
        return f"{source} could not be reached"
    if isinstance(exc, ServiceResponseError):
        return f"{source} gave no answer (the connection was closed or timed out)"
    response = getattr(exc, "response", None)
    if isinstance(exc, ClientAuthenticationError) and response is not None:
        status = getattr(response, "status_code", None)
        if status and status < 400:
            return f"{source} answered {status} without a token"
        return f"{source} answered {status}"
    if isinstance(exc, ClientAuthenticationError):
        return "no managed identity or other credential is available to the app"
    return f"the credential failed ({type(exc).__name__})"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or while handling, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def token_failure(exc: BaseException) -> BaseException | None:
    """The credential's failure in `exc`'s chain, or None: a CredentialUnavailableError (TokenUnavailable is one), or
    a ClientAuthenticationError without a response (a service that refuses a token answers with one, which is
    that service's answer, not the identity's)."""
    for error in _chain(exc):
        if isinstance(error, CredentialUnavailableError):
            return error
        if isinstance(error, ClientAuthenticationError) and getattr(error, "response", None) is None:
            return error
    return None


def identity_unavailable(action: str, resource: str, exc: BaseException) -> IdentityUnavailable:
    """The product's error for a token for `resource` that could not be had while doing `action`: what happened and
    what an operator should check (no setting values, no secrets)."""
    bounded = next((error for error in _chain(exc) if isinstance(error, TokenUnavailable)), None)
    reason = bounded.reason if bounded else describe(exc)
    checks = bounded.checks if bounded else f"{MANAGED_IDENTITY_CHECKS} {DEVELOPER_CHECKS}"
    return IdentityUnavailable(f"{action}: no access token for {resource} ({reason}). {checks}",
                               retry_after=RETRY_AFTER)


class GraphTokenCheck:
    """The TokenCheck port: asks the credential for a Graph token (its cache serves it after the first), never
    Graph itself."""

    def __init__(self, settings: Settings, credential: BoundedCredential | None) -> None:
        self._settings = settings
        self._credential = credential

    async def graph_token(self, within: float) -> str:
        """"ok"; "development-token" when the app sends its fixed development token, "not used" when its directory
        is not Graph (nothing is asked for either). Raises IdentityUnavailable when no token can be had within
        `within` seconds."""
        if self._settings.graph_uses_development_token:
            return DEVELOPMENT_TOKEN_STATUS
        if self._credential is None:
            return NOT_USED
        try:
            await self._credential.check(self._settings.graph_scope, within)
        except AzureError as exc:
            raise identity_unavailable("token check", GRAPH, exc) from exc
        return TOKEN_OK

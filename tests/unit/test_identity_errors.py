"""No token from the app's identity is the product's IdentityUnavailable (503, Retry-After, what to check), wherever
the token was wanted (Graph, Table Storage), and a token request ends within its bound.

The credentials here are fakes of azure-core's AsyncTokenCredential protocol (what azure-identity implements); the
SDKs' own code (msgraph-sdk's request adapter, kiota's token provider, azure-identity's App Service credential and
azure-core's pipeline) runs unchanged."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import CredentialUnavailableError

from lifecycle.adapters.credentials import azure_credential
from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.adapters.graph.errors import translate
from lifecycle.adapters.graph.retry import GraphRetryPolicy
from lifecycle.adapters.identity import BoundedCredential, GraphTokenCheck, TokenUnavailable, identity_unavailable
from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.config import Settings, Tuning
from lifecycle.errors import GraphUnavailable, IdentityUnavailable, StorageUnavailable
from lifecycle.http.errors import error_response
from tests.fake_credentials import FakeCredential, Response
from tests.identity_endpoints import silent_endpoint

USER = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"
# What an operator must be told to check, by name (never a value).
CHECKS = ("managed identity", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT")


def managed_identity_settings() -> Settings:
    return Settings.from_env({"GRAPH_AUTH": "managed-identity", "LIFECYCLE_TABLES_ENDPOINT":
                              "https://account.table.core.windows.net"})


def tells_what_to_check(error: IdentityUnavailable) -> bool:
    return all(name in error.message for name in CHECKS)


# --- translation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("raised", [
    CredentialUnavailableError("No managed identity endpoint found."),
    ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"),
    ServiceRequestError("Cannot connect to host 127.0.0.1:9"),
    TokenUnavailable("the managed-identity endpoint did not answer within 15 s", "Check the managed identity, "
                     "AZURE_CLIENT_ID and IDENTITY_ENDPOINT."),
], ids=["no credential", "chain failed", "endpoint unreachable", "bounded"])
def test_a_credential_failure_is_identity_unavailable_for_graph(raised: Exception) -> None:
    error = translate(raised, "get user")
    assert isinstance(error, IdentityUnavailable) and error.status == 503 and error.code == "IdentityUnavailable"
    assert error.message.startswith("get user: no access token for Microsoft Graph") and tells_what_to_check(error)


def test_a_wrapped_credential_failure_is_found_in_the_chain() -> None:
    try:
        try:
            raise CredentialUnavailableError("No managed identity endpoint found.")
        except CredentialUnavailableError as inner:
            raise RuntimeError("token provider failed") from inner
    except RuntimeError as wrapped:
        assert isinstance(translate(wrapped, "list guests"), IdentityUnavailable)


def test_the_reason_says_what_happened_without_the_sdk_text() -> None:
    answered = ClientAuthenticationError("No managed identity found for client 1234", response=Response(400))
    error = identity_unavailable("invite", "Microsoft Graph", answered)
    assert "answered 400" in error.message and "1234" not in error.message
    assert "could not be reached" in identity_unavailable("x", "Microsoft Graph", ServiceRequestError("e")).message


def test_identity_unavailable_answers_503_with_retry_after_and_its_code() -> None:
    response = error_response(translate(CredentialUnavailableError("none"), "get user"))
    body = json.loads(response.get_body())
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert body["error"]["code"] == "IdentityUnavailable" and "AZURE_CLIENT_ID" in body["error"]["message"]


async def test_the_credentials_failure_in_a_storage_call_is_identity_unavailable() -> None:
    with pytest.raises(IdentityUnavailable) as raised:
        async with storage_errors("read"):
            raise TokenUnavailable("the managed-identity endpoint could not be reached", "Check IDENTITY_ENDPOINT.")
    assert raised.value.message.startswith("read: no access token for Azure Storage")


async def test_storage_refusing_a_token_stays_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable) as raised:
        async with storage_errors("read"):
            raise ClientAuthenticationError("This request is not authorized", response=Response(403))
    assert not isinstance(raised.value, IdentityUnavailable) and "403" in raised.value.message


# --- the real Graph adapter on a credential that fails -------------------------------------------
@pytest.mark.parametrize("credential", [
    BoundedCredential(FakeCredential(ClientAuthenticationError("no identity")), 5),
    FakeCredential(ServiceRequestError("Cannot connect to host 127.0.0.1:9")),  # not bounded: the raw SDK error
], ids=["bounded", "raw"])
async def test_a_graph_call_without_a_token_is_identity_unavailable_and_not_retried(credential: Any) -> None:
    directory = GraphDirectory(managed_identity_settings(), GraphRetryPolicy(attempts=6, min_wait=0.01), credential)
    inner = credential.inner if isinstance(credential, BoundedCredential) else credential
    try:
        with pytest.raises(IdentityUnavailable) as raised:
            await directory.get_user(USER)
    finally:
        await directory.close()
    assert not isinstance(raised.value, GraphUnavailable) and tells_what_to_check(raised.value)
    assert len(inner.asked) == 1  # the credential already bounded its attempt: no retry of the Graph call


# --- bounds -------------------------------------------------------------------------------------
async def test_a_token_request_that_never_ends_fails_at_its_bound() -> None:
    credential = BoundedCredential(FakeCredential(None), 0.2)
    started = time.monotonic()
    with pytest.raises(TokenUnavailable) as raised:
        await credential.get_token("https://graph.microsoft.com/.default")
    assert time.monotonic() - started < 2 and "did not answer within 0.2 s" in raised.value.reason


async def test_a_bounded_credential_hands_out_the_inner_token() -> None:
    inner = FakeCredential("t0k3n")
    credential = BoundedCredential(inner, 1)
    assert (await credential.get_token("https://storage.azure.com/.default")).token == "t0k3n"
    assert (await credential.get_token_info("https://storage.azure.com/.default")).token == "t0k3n"


async def test_a_failed_token_request_is_not_repeated_for_a_while() -> None:
    """One request's later storage calls, the queue's retries, the next requests: each would wait the bound again."""
    inner = FakeCredential(ServiceRequestError("Cannot connect to host 127.0.0.1:9"))
    credential = BoundedCredential(inner, 5, retry_after=0.3)
    for _ in range(3):
        with pytest.raises(TokenUnavailable, match="could not be reached"):
            await credential.get_token("https://storage.azure.com/.default")
    assert len(inner.asked) == 1
    inner.outcome = "t0k3n"
    await asyncio.sleep(0.35)
    assert (await credential.get_token("https://storage.azure.com/.default")).token == "t0k3n"
    assert len(inner.asked) == 2


async def test_a_health_check_cut_short_is_not_remembered() -> None:
    inner = FakeCredential(None)
    credential = BoundedCredential(inner, 5)
    with pytest.raises(TokenUnavailable, match="within 0.1 s"):
        await credential.check("https://graph.microsoft.com/.default", 0.1)
    inner.outcome = "t0k3n"
    assert (await credential.get_token("https://graph.microsoft.com/.default")).token == "t0k3n"


@pytest.fixture
def silent() -> Iterator[str]:
    with silent_endpoint() as url:
        yield url


async def test_the_managed_identity_credential_reads_with_the_tuned_timeout(silent: str, monkeypatch) -> None:
    """azure-identity's App Service credential, on the platform's variables: a silent endpoint is given up after the
    read timeout (one retry), well before the whole request's bound."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", silent)
    monkeypatch.setenv("IDENTITY_HEADER", "secret")
    credential = azure_credential(managed_identity_settings(),
                                  Tuning(token_read_seconds=0.3, token_timeout_seconds=20))
    started = time.monotonic()
    try:
        with pytest.raises(TokenUnavailable) as raised:
            await credential.get_token("https://graph.microsoft.com/.default")
    finally:
        await credential.close()
    assert time.monotonic() - started < 5
    assert "managed-identity endpoint" in raised.value.reason and "within 20 s" not in raised.value.reason


async def test_the_managed_identity_credential_ends_at_the_whole_bound(silent: str, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", silent)
    monkeypatch.setenv("IDENTITY_HEADER", "secret")
    credential = azure_credential(managed_identity_settings(),
                                  Tuning(token_read_seconds=30, token_timeout_seconds=0.5))
    started = time.monotonic()
    try:
        with pytest.raises(TokenUnavailable, match="did not answer within 0.5 s"):
            await credential.get_token("https://graph.microsoft.com/.default")
    finally:
        await credential.close()
    assert time.monotonic() - started < 3


# --- the health check's token check ------------------------------------------------------------
async def test_the_token_check_asks_the_credential_not_graph() -> None:
    inner = FakeCredential("t0k3n")
    check = GraphTokenCheck(managed_identity_settings(), BoundedCredential(inner, 5))
    assert await check.graph_token(1) == "ok"
    assert inner.asked == [("https://graph.microsoft.com/.default",)]


async def test_the_token_check_fails_within_its_own_time() -> None:
    check = GraphTokenCheck(managed_identity_settings(), BoundedCredential(FakeCredential(None), 30))
    started = time.monotonic()
    with pytest.raises(IdentityUnavailable) as raised:
        await check.graph_token(0.2)
    assert time.monotonic() - started < 2 and "within 0.2 s" in raised.value.message
    assert tells_what_to_check(raised.value)


async def test_the_token_check_with_the_development_token_asks_nothing() -> None:
    inner = FakeCredential(CredentialUnavailableError("must not be asked"))
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0"})
    assert await GraphTokenCheck(settings, BoundedCredential(inner, 5)).graph_token(1) == "development-token"
    assert inner.asked == []

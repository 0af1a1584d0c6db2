"""The managed-identity endpoint (App Service protocol) and the strict-auth switch, through azure-identity's own
ManagedIdentityCredential over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ManagedIdentityCredential

from graph_emulator import EmulatorServer
from graph_emulator.identity import IdentityIssuer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"


@pytest.fixture
def platform_env(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The App Service variables naming the emulator's identity endpoint, set as the platform sets them."""
    emu.control.clear_identity_counts()
    env = emu.identity_environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    return env


def token_request(emu: EmulatorServer, secret: str | None, **params: str) -> httpx.Response:
    headers = {} if secret is None else {"X-IDENTITY-HEADER": secret}
    return httpx.get(emu.identity_endpoint, params=params, headers=headers, timeout=10)


async def test_managed_identity_credential_gets_a_jwt_for_the_resource(emu, platform_env):
    async with ManagedIdentityCredential(client_id=platform_env["AZURE_CLIENT_ID"]) as credential:
        token = await credential.get_token(GRAPH_SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{emu.identity.tenant_id}/"
    assert claims["tid"] == emu.identity.tenant_id and claims["appid"] == emu.identity.client_id
    assert claims["oid"] == emu.identity.object_id and claims["nbf"] <= claims["iat"] < claims["exp"]
    assert token.expires_on == claims["exp"]


async def test_the_credential_caches_one_token_per_resource(emu, platform_env):
    async with ManagedIdentityCredential(client_id=platform_env["AZURE_CLIENT_ID"]) as credential:
        first = await credential.get_token(GRAPH_SCOPE)
        again = await credential.get_token(GRAPH_SCOPE)
        await credential.get_token(STORAGE_SCOPE)
        await credential.get_token(STORAGE_SCOPE)
    assert again.token == first.token
    assert emu.control.identity()["issued"] == {"https://graph.microsoft.com": 1, "https://storage.azure.com": 1}


async def test_a_wrong_identity_header_is_refused(emu, platform_env, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    async with ManagedIdentityCredential() as credential:
        with pytest.raises(ClientAuthenticationError):
            await credential.get_token(GRAPH_SCOPE)
    assert emu.control.identity()["total"] == 0


def test_the_protocol_answers_as_the_platform_does(emu):
    secret = emu.identity.secret
    ok = token_request(emu, secret, **{"api-version": "2019-08-01", "resource": "https://storage.azure.com"})
    assert ok.status_code == 200
    assert set(ok.json()) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_on"].isdigit()
    assert token_request(emu, None, **{"api-version": "2019-08-01", "resource": "x"}).status_code == 401
    assert token_request(emu, secret, **{"api-version": "2017-09-01", "resource": "x"}).status_code == 400
    assert token_request(emu, secret, **{"api-version": "2019-08-01"}).status_code == 400
    unknown = token_request(emu, secret, **{"api-version": "2019-08-01", "resource": "x",
                                            "client_id": "00000000-0000-0000-0000-000000000001"})
    assert unknown.status_code == 400


def issued_token(emu: EmulatorServer, resource: str) -> str:
    return emu.identity.issue(resource)["access_token"]


def test_strict_auth_is_off_by_default_and_any_bearer_token_works(emu, graph):
    assert emu.control.config()["strictAuth"] is False
    assert graph.get("/users").status_code == 200


def test_strict_auth_accepts_only_graph_tokens_it_issued(emu):
    emu.control.configure(strictAuth=True)
    foreign = IdentityIssuer(tenant_id=emu.identity.tenant_id).issue("https://graph.microsoft.com")["access_token"]
    cases = {"development-token": 401, foreign: 401, issued_token(emu, "https://storage.azure.com"): 401,
             issued_token(emu, "https://graph.microsoft.com"): 200}
    for token, status in cases.items():
        answer = httpx.get(f"{emu.graph_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == status, token
        if status == 401:
            assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_strict_auth_refuses_an_expired_token(emu):
    emu.control.configure(strictAuth=True)
    expired = IdentityIssuer(tenant_id=emu.identity.tenant_id, lifetime_seconds=-60)
    expired._key = emu.identity._key  # the same signer, only the lifetime is over
    token = expired.issue("https://graph.microsoft.com")["access_token"]
    answer = httpx.get(f"{emu.graph_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401


def test_each_graph_request_records_the_token_it_carried(emu, graph):
    token = issued_token(emu, "https://graph.microsoft.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    httpx.get(f"{emu.graph_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    graph.get("/users")
    log = emu.control.calls()["log"]
    assert [entry["token"] for entry in log] == [{"aud": "https://graph.microsoft.com", "jti": claims["jti"]}, None]


def test_reset_keeps_the_identity_so_cached_tokens_stay_valid(emu):
    emu.control.configure(strictAuth=True)
    token = issued_token(emu, "https://graph.microsoft.com")
    emu.control.reset()
    emu.control.configure(strictAuth=True)
    answer = httpx.get(f"{emu.graph_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200


def test_command_line_serves_the_identity_endpoint_with_strict_auth():
    project = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "graph_emulator", "--port", "0", "--strict-auth"]
    process = subprocess.Popen(command, cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                               stdout=subprocess.PIPE, text=True)
    try:
        lines = dict(line.strip().split("=", 1) for line in (process.stdout.readline() for _ in range(6))
                     if "=" in line)
        answer = httpx.get(lines["IDENTITY_ENDPOINT"], headers={"X-IDENTITY-HEADER": lines["IDENTITY_HEADER"]},
                           params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com",
                                   "client_id": lines["AZURE_CLIENT_ID"]}, timeout=5)
        token = answer.json()["access_token"]
        with_token = httpx.get(lines["GRAPH_BASE_URL"] + "/users", headers={"Authorization": f"Bearer {token}"})
        without = httpx.get(lines["GRAPH_BASE_URL"] + "/users", headers={"Authorization": "Bearer development"})
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert lines["IDENTITY_ENDPOINT"].endswith("/msi/token")
    assert (with_token.status_code, without.status_code) == (200, 401)

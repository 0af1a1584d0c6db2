"""The development server's App Service authentication (devserver/easy_auth.py): what it reads from its settings,
the headers it sets, where it redirects, and what the app makes of a session's headers."""
from __future__ import annotations

import base64
import json
import os

import azure.functions as func
import pytest

from devserver.easy_auth import EasyAuth, SignedIn, _local_path, parse_roles
from lifecycle.config import AppRole
from lifecycle.http.roles import caller_of


def test_the_roles_setting_names_users_by_upn_mail_or_id_in_any_case():
    assert parse_roles(" Ada@Contoso.com=Guests.Admin ; rita@contoso.com=Guests.Read,Guests.Manage;") == {
        "ada@contoso.com": ("Guests.Admin",), "rita@contoso.com": ("Guests.Read", "Guests.Manage")}
    assert parse_roles("") == {}
    for wrong in ("ada@contoso.com", "=Guests.Admin", "ada@contoso.com="):
        with pytest.raises(ValueError, match="DEVSERVER_APP_ROLES"):
            parse_roles(wrong)


@pytest.mark.parametrize("target, local", [("/api/portal", True), ("/", True), ("/api/portal?x=1", True),
                                           ("//evil.example/", False), ("https://evil.example/", False),
                                           ("/\\evil.example", False), ("api/portal", False), ("", False)])
def test_only_a_path_on_this_site_is_a_redirect_target(target, local):
    assert _local_path(target) is local


def test_the_session_headers_are_app_services_and_the_app_reads_the_user_and_its_roles(monkeypatch):
    signed_in = SignedIn("2f0d7a0e-1c1d-4a4a-9c9c-0123456789ab", "rita@contoso.com", "Rita", ("Guests.Read",), 4e9)
    headers = signed_in.headers()
    principal = json.loads(base64.b64decode(headers["x-ms-client-principal"]))
    assert principal["auth_typ"] == "aad" and principal["role_typ"].endswith("/claims/role")
    assert {"typ": "roles", "val": "Guests.Read"} in principal["claims"]
    assert (headers["x-ms-client-principal-id"], headers["x-ms-client-principal-name"],
            headers["x-ms-client-principal-idp"]) == (signed_in.object_id, "rita@contoso.com", "aad")
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    caller = caller_of(func.HttpRequest("GET", "http://127.0.0.1/api/me/guests", headers=headers, body=b""))
    assert caller.user and caller.object_id == signed_in.object_id and caller.roles == {AppRole.READ}


def test_it_tells_the_app_that_the_platforms_authentication_is_on(monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")  # recorded, so the test's end puts back what was there
    monkeypatch.setenv("DEVSERVER_TRUST_PRINCIPAL_HEADERS", "TRUE")
    monkeypatch.setenv("DEVSERVER_APP_ROLES", "ada@contoso.com=Guests.Admin")
    auth = EasyAuth.from_env()
    assert os.environ["WEBSITE_AUTH_ENABLED"] == "true"
    assert auth.trust_client_headers and auth.roles == {"ada@contoso.com": ("Guests.Admin",)}
    assert not EasyAuth.guards("/api/portal") and not EasyAuth.guards("/api/health")
    assert EasyAuth.guards("/api/guests") and EasyAuth.guards("/api/openapi.json")

"""LIFECYCLE_HTTP_AUTH=entra: App Service authentication instead of function keys, closed by default: a caller
needs the app role each route requires (its token's roles; a caller listed in LIFECYCLE_HTTP_ALLOWED_CLIENTS /
LIFECYCLE_HTTP_ALLOWED_PRINCIPALS also holds the roles LIFECYCLE_HTTP_ROLES names)."""
from __future__ import annotations

from tests.api_client import call
from tests.principals import encode as principal

CLIENT = "0f2c7f5e-6a3b-4c8d-9e1f-2a3b4c5d6e7f"
OBJECT = "7d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a"


NO_ROLE = principal(("appid", CLIENT), ("oid", OBJECT))
ADMIN = principal(("appid", "logic-app"), ("roles", "Guests.Read"), ("roles", "Guests.Admin"))


async def test_requests_without_platform_authentication_are_refused(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "x@fabrikam.com"},
                                 headers={"x-ms-client-principal": ADMIN})
    assert status == 401 and body["error"]["code"] == "Unauthorized"
    assert fakes.directory.writes == [] and fakes.store.claims == {}
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    status, _, _ = await call("list_guests", "GET", "guests")
    assert status == 401


async def test_a_caller_with_a_required_app_role_is_served_and_audited(fakes, entra):
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "y@fabrikam.com"},
                                 headers={"x-ms-client-principal": ADMIN})
    assert status == 201 and fakes.audit.entries[-1].actor == "principal:logic-app"


async def test_by_default_a_principal_of_the_tenant_without_the_app_role_is_refused_with_what_to_configure(
        fakes, entra):
    """Any principal of the tenant can get a token for the API unless assignment is required: a valid token is
    not enough, the caller needs the role (Guests.Admin by default) or to be listed."""
    for headers in ({"x-ms-client-principal": NO_ROLE},
                    {"x-ms-client-principal": principal(("appid", CLIENT), ("roles", "Guests.Read"))}):
        status, body, _ = await call("invite_guest", "POST", "guests", {"email": "z@fabrikam.com"}, headers=headers)
        assert status == 403 and body["error"]["code"] == "CallerNotAllowed"
        message = body["error"]["message"]
        assert "LIFECYCLE_HTTP_ROLES" in message and "Guests.Admin" in message
        assert "LIFECYCLE_HTTP_ALLOWED_CLIENTS" in message and "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS" in message
    status, _, _ = await call("list_guests", "GET", "guests", headers={"x-ms-client-principal": NO_ROLE})
    assert status == 403
    assert fakes.directory.writes == [] and fakes.store.claims == {} and fakes.keys.records == {}


async def test_a_role_named_by_the_platforms_role_type_counts(fakes, entra):
    role_typ = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
    headers = {"x-ms-client-principal": principal(("appid", CLIENT), (role_typ, "Guests.Admin"), role_typ=role_typ)}
    status, _, _ = await call("list_guests", "GET", "guests", headers=headers)
    assert status == 200


async def test_a_listed_client_application_or_principal_is_served_without_a_role(fakes, entra):
    entra.setenv("LIFECYCLE_HTTP_ALLOWED_CLIENTS", CLIENT.upper())
    status, _, _ = await call("list_guests", "GET", "guests", headers={"x-ms-client-principal": NO_ROLE})
    assert status == 200
    entra.delenv("LIFECYCLE_HTTP_ALLOWED_CLIENTS")
    entra.setenv("LIFECYCLE_HTTP_ALLOWED_PRINCIPALS", OBJECT)
    headers = {"x-ms-client-principal": principal(("appid", "someone-else")), "x-ms-client-principal-id": OBJECT}
    status, _, _ = await call("list_guests", "GET", "guests", headers=headers)
    assert status == 200
    status, _, _ = await call("list_guests", "GET", "guests",
                              headers={"x-ms-client-principal": principal(("azp", CLIENT))})
    assert status == 403


async def test_a_listed_caller_holds_exactly_the_roles_lifecycle_http_roles_names(fakes, entra):
    entra.setenv("LIFECYCLE_HTTP_ALLOWED_CLIENTS", CLIENT)
    entra.setenv("LIFECYCLE_HTTP_ROLES", "Guests.Read")
    status, _, _ = await call("list_guests", "GET", "guests", headers={"x-ms-client-principal": NO_ROLE})
    assert status == 200
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "w@fabrikam.com"},
                                 headers={"x-ms-client-principal": NO_ROLE})
    assert status == 403 and "Guests.Manage" in body["error"]["message"]
    assert body["error"]["details"][0]["requiredRole"] == "Guests.Manage"
    assert body["error"]["details"][0]["callerRoles"] == ["Guests.Read"]


async def test_the_tokens_roles_count_whatever_lifecycle_http_roles_names(fakes, entra):
    entra.setenv("LIFECYCLE_HTTP_ROLES", "Guests.Read")
    status, _, _ = await call("invite_guest", "POST", "guests", {"email": "v@fabrikam.com"},
                              headers={"x-ms-client-principal": ADMIN})
    assert status == 201


async def test_function_key_mode_is_unchanged(fakes, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_HTTP_AUTH", raising=False)
    status, _, _ = await call("list_guests", "GET", "guests")
    assert status == 200


async def test_health_stays_open(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("LIFECYCLE_TABLES_CONNECTION_STRING", "UseDevelopmentStorage=true")
    status, body, _ = await call("health", "GET", "health")
    assert status == 200 and body["checks"]["settings"] == "ok"

"""LIFECYCLE_HTTP_AUTH=entra: App Service authentication instead of function keys."""
from __future__ import annotations

import base64
import json

from tests.http_calls import call

PRINCIPAL = base64.b64encode(json.dumps({"claims": [{"typ": "appid", "val": "logic-app"}]}).encode()).decode()


async def test_requests_without_platform_authentication_are_refused(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "x@fabrikam.com"},
                                 headers={"x-ms-client-principal": PRINCIPAL})
    assert status == 401 and body["error"]["code"] == "Unauthorized"
    assert fakes.directory.writes == [] and fakes.store.claims == {}
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    status, _, _ = await call("list_guests", "GET", "guests")
    assert status == 401


async def test_authenticated_callers_are_served_and_audited(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    status, body, _ = await call("invite_guest", "POST", "guests", {"email": "y@fabrikam.com"},
                                 headers={"x-ms-client-principal": PRINCIPAL})
    assert status == 201 and fakes.audit.entries[-1].actor == "principal:logic-app"


async def test_health_stays_open(fakes, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("LIFECYCLE_TABLES_CONNECTION_STRING", "UseDevelopmentStorage=true")
    status, body, _ = await call("health", "GET", "health")
    assert status == 200 and body["checks"]["settings"] == "ok"

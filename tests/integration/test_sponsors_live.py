"""Sponsors through `python -m lifecycle serve` in Entra mode, against Azurite and the Graph emulator: the
development server plays App Service authentication (sign-in, session, principal headers), a sponsor keeps one
guest and removes another, and another user is refused for the same guest even with a crafted request: the
principal headers a client sends are dropped, unless DEVSERVER_TRUST_PRINCIPAL_HEADERS says the client plays the
platform itself."""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lifecycle.config import Settings
from lifecycle.wiring import build_services
from tests import principals
from tests.served import served, signed_in
from tests.support import GROUP_A, queued_events

pytestmark = pytest.mark.azurite
ROLES = "ada@contoso.com=Guests.Admin;rita@contoso.com=Guests.Read"


@pytest.fixture
def people(emulator) -> dict[str, str]:
    """Members of the emulated tenant: Ada (an administrator), Rita (a reader), Sam and Kim (sponsors)."""
    return {name: emulator.seed_user(mail=f"{name}@contoso.com", userType="Member",
                                     displayName=name.capitalize())["id"]
            for name in ("ada", "rita", "sam", "kim")}


@pytest.fixture
def entra_env(live_env: dict[str, str]) -> dict[str, str]:
    return {**live_env, "LIFECYCLE_HTTP_AUTH": "entra", "DEVSERVER_APP_ROLES": ROLES}


@pytest.fixture
def server(entra_env: dict[str, str], people: dict[str, str]) -> Iterator[str]:
    with served(entra_env) as url:
        yield url


@pytest.fixture
def guests(server: str, people: dict[str, str]) -> dict[str, str]:
    """Three guests invited by Ada: one and two sponsored by Sam, three by Kim."""
    ids = {}
    with signed_in(server, "ada@contoso.com") as ada:
        for name, sponsor in (("one", "sam"), ("two", "sam"), ("three", "kim")):
            answer = ada.post("/api/guests", json={"email": f"{name}@fabrikam.com", "displayName": name.title(),
                                                   "sponsors": [people[sponsor]], "groups": [GROUP_A]})
            assert answer.status_code in (201, 202), answer.text
            ids[name] = answer.json()["id"]
    return ids


def _audit(live_env: dict[str, str], guest_id: str) -> list[Any]:
    async def read() -> list[Any]:
        services = build_services(Settings.from_env(live_env))
        try:
            return await services.audit.entries_for(guest_id)
        finally:
            await services.close()

    return asyncio.run(read())


def test_app_service_authentication_is_played_faithfully(server, people):
    anonymous = httpx.Client(base_url=server, timeout=30)
    assert anonymous.get("/.auth/me").status_code == 401
    assert anonymous.get("/api/guests").status_code == 401  # the platform answers before the app
    assert anonymous.get("/api/health").status_code == 200  # excluded paths need no session
    portal = anonymous.get("/api/portal")
    assert portal.status_code == 200 and "script-src 'self'" in portal.headers["content-security-policy"]
    form = anonymous.get("/.auth/login/aad", params={"post_login_redirect_uri": "/api/portal"})
    assert form.status_code == 200 and 'name="user"' in form.text
    assert anonymous.get("/.auth/login/aad", params={"user": "nobody@contoso.com"}).status_code == 400
    assert anonymous.get("/.auth/login/aad", params={"user": "sam@contoso.com",
                                                     "post_login_redirect_uri": "https://evil.example/"}
                         ).status_code == 400
    with signed_in(server, "ada@contoso.com") as ada:
        (me,) = ada.get("/.auth/me").json()
        claims = {(claim["typ"], claim["val"]) for claim in me["user_claims"]}
        assert me["provider_name"] == "aad" and me["user_id"] == "ada@contoso.com"
        assert ("roles", "Guests.Admin") in claims and ("preferred_username", "ada@contoso.com") in claims
        assert ada.get("/api/guests").status_code == 200
        assert ada.get("/.auth/logout", params={"post_logout_redirect_uri": "/api/portal"}).status_code == 302
        assert ada.get("/api/guests").status_code == 401
    with signed_in(server, people["sam"]) as sam:  # by object id too
        answer = sam.get("/api/me/guests")
        assert answer.status_code == 200 and answer.json()["caller"]["roles"] == []
        assert answer.json()["caller"]["id"] == people["sam"] and answer.json()["caller"]["scope"] == "sponsored"


def test_a_blocked_or_deleted_account_cannot_sign_in(server, people, emulator):
    emulator.update_user(people["kim"], accountEnabled=False)
    answer = httpx.get(f"{server}/.auth/login/aad", params={"user": "kim@contoso.com"})
    assert answer.status_code == 400 and "blocked" in answer.text


def test_a_sponsor_keeps_one_guest_and_removes_another(server, guests, people, live_env, emulator):
    with signed_in(server, "sam@contoso.com") as sam:
        mine = sam.get("/api/me/guests").json()
        assert sorted(g["email"] for g in mine["value"]) == ["one@fabrikam.com", "two@fabrikam.com"]
        kept = sam.post(f"/api/guests/{guests['one']}/attest", json={"decision": "keep"})
        assert kept.status_code == 200 and kept.json()["state"] == "invited"
        removed = sam.post(f"/api/guests/{guests['two']}/attest", json={"decision": "remove"})
        assert removed.status_code == 200
        assert (removed.json()["state"], removed.json()["disabledReason"]) == ("disabled", "sponsor")
    assert emulator.user(guests["two"])["accountEnabled"] is False
    assert emulator.user(guests["one"])["accountEnabled"] is True
    sam_actor = f"principal:sam@contoso.com/{people['sam']}"
    kept_entries = [e for e in _audit(live_env, guests["one"]) if e.action == "guest.attest"]
    assert [(e.actor, e.outcome, e.details["decision"]) for e in kept_entries] == [(sam_actor, "unchanged", "keep")]
    removed_entries = {e.action: e for e in _audit(live_env, guests["two"])}
    assert removed_entries["guest.attest"].actor == sam_actor
    assert removed_entries["guest.attest"].details["sponsor"] == people["sam"]
    assert removed_entries["guest.disable"].actor == sam_actor
    events = queued_events(live_env["LIFECYCLE_TABLES_CONNECTION_STRING"], live_env["LIFECYCLE_EVENTS_QUEUE"])
    disabled = [e for e in events if e["type"] == "guest.disabled"]
    assert [e["data"]["guestId"] for e in disabled] == [guests["two"]]


def _crafted_admin(object_id: str) -> dict[str, str]:
    return principals.user(object_id, "sam@contoso.com", "Guests.Admin")


def test_another_user_is_refused_even_with_a_crafted_request(server, guests, people, emulator):
    crafted = _crafted_admin(people["sam"])
    with signed_in(server, "kim@contoso.com") as kim:
        for decision in ("keep", "remove"):
            answer = kim.post(f"/api/guests/{guests['one']}/attest", json={"decision": decision}, headers=crafted)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "NotGuestSponsor"
        answer = kim.get("/api/guests", headers=crafted)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "CallerNotAllowed"
        assert [g["email"] for g in kim.get("/api/me/guests", headers=crafted).json()["value"]] == [
            "three@fabrikam.com"]
    anonymous = httpx.post(f"{server}/api/guests/{guests['one']}/attest", json={"decision": "remove"},
                           headers=crafted, timeout=30)
    assert anonymous.status_code == 401
    assert emulator.user(guests["one"])["accountEnabled"] is True


def test_trusted_principal_headers_pass_through_for_a_client_that_plays_the_platform(entra_env, people):
    crafted = _crafted_admin(people["sam"])
    with served({**entra_env, "DEVSERVER_TRUST_PRINCIPAL_HEADERS": "true"}) as url:
        answer = httpx.get(f"{url}/api/me/guests", headers=crafted, timeout=30)
        assert answer.status_code == 200
        caller = answer.json()["caller"]
        assert caller["scope"] == "all" and "Guests.Admin" in caller["roles"] and caller["id"] == people["sam"]
        principal = json.loads(base64.b64decode(crafted["x-ms-client-principal"]))
        assert {"typ": "preferred_username", "val": "sam@contoso.com"} in principal["claims"]
        assert httpx.get(f"{url}/api/guests", timeout=30).status_code == 401  # no headers, no session: 401

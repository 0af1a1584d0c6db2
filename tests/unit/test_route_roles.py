"""Each route requires one app role (docs/roles.md), checked over every function function_app registers:
a new route fails here until lifecycle/http/roles.py ROUTE_RULES gives it a role, and a route is refused (403
naming the role) to every caller below it, in Entra mode. A signed-in user without the role is a sponsor: only the
routes that serve sponsors let them through (to their own guests: tests/functional/test_sponsors_http.py)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

import function_app
from lifecycle.http.pipeline import authenticates
from lifecycle.http.roles import ROUTE_RULES, UNLISTED, rule_for
from lifecycle.registry import http_functions
from tests import principals
from tests.api_client import decoded, request

READ, MANAGE, ADMIN = "Guests.Read", "Guests.Manage", "Guests.Admin"
EXPECTED: dict[str, tuple[str, bool]] = {  # function: (the role it requires, whether sponsors may call it)
    "get_guest": (READ, True),
    "list_guests": (READ, False),
    "my_guests": (READ, True),
    "guest_history": (READ, False),
    "expiry_plan": (READ, False),
    "list_runs": (READ, False),
    "get_run": (READ, False),
    "invite_guest": (MANAGE, False),
    "add_guest_to_group": (MANAGE, False),
    "remove_guest_from_group": (MANAGE, False),
    "disable_guest": (MANAGE, False),
    "enable_guest": (MANAGE, False),
    "extend_guest": (MANAGE, False),
    "reinvite_guest": (MANAGE, False),
    "attest_guest": (MANAGE, True),
    "delete_guest": (ADMIN, False),
    "restore_guest": (ADMIN, False),
    "adopt_guests": (ADMIN, False),
    "approve_plan": (ADMIN, False),
}
HELD = {"none": (), READ: (READ,), MANAGE: (MANAGE,), ADMIN: (ADMIN,)}
RANK = {"none": 0, READ: 1, MANAGE: 2, ADMIN: 3}
CLIENT = "0f2c7f5e-6a3b-4c8d-9e1f-2a3b4c5d6e7f"
OBJECT = "7d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a"
ROUTE_VALUES = {"id": str(uuid.uuid4()), "groupId": str(uuid.uuid4()), "runId": "20261201T030000123456Z-1a2b3c4d",
                "planId": "20261201T030000123456Z-1a2b3c4d"}

FUNCTIONS = {function.name: function for function in http_functions(function_app.app)}
GUARDED = sorted(name for name, function in FUNCTIONS.items() if authenticates(function.handler))


def test_every_route_that_authenticates_has_a_role_and_no_role_names_a_route_that_is_gone():
    missing = sorted(set(GUARDED) - set(ROUTE_RULES))
    assert not missing, f"give these routes an app role in lifecycle/http/roles.py ROUTE_RULES: {missing}"
    assert not set(ROUTE_RULES) - set(GUARDED), "ROUTE_RULES names functions that are not registered"


def test_each_route_requires_the_role_the_design_gives_it():
    assert {name: (rule.role.value, rule.sponsors) for name, rule in ROUTE_RULES.items()} == EXPECTED
    assert set(GUARDED) == set(EXPECTED), "a route was added or removed: say here which role it requires"


def test_a_route_not_listed_is_for_administrators_only():
    assert rule_for("a_route_nobody_listed") == UNLISTED and UNLISTED.role.value == ADMIN and not UNLISTED.sponsors


def _call(name: str, headers: dict[str, str]) -> Any:
    function = FUNCTIONS[name]
    route = {key: value for key, value in ROUTE_VALUES.items() if "{" + key in function.route}
    path = function.route
    for key, value in route.items():
        path = path.replace("{" + key + "}", value)
    return function.handler(request(function.methods[0], path, {}, route=route, headers=headers))


def _refused_for_its_role(response: Any) -> bool:
    return response.status_code == 403 and decoded(response)["error"]["code"] == "CallerNotAllowed"


@pytest.mark.parametrize("name", GUARDED)
@pytest.mark.parametrize("held", list(HELD))
async def test_an_application_is_refused_below_the_role_and_let_through_from_it(fakes, entra, name, held):
    required, _ = EXPECTED[name]
    response = await _call(name, principals.application(CLIENT, OBJECT, *HELD[held]))
    assert _refused_for_its_role(response) == (RANK[held] < RANK[required]), response.get_body()
    if RANK[held] < RANK[required]:
        assert required in response.get_body().decode()


@pytest.mark.parametrize("name", GUARDED)
async def test_a_signed_in_user_without_a_role_is_let_through_only_where_sponsors_are_served(fakes, entra, name):
    response = await _call(name, principals.user(OBJECT, "sam@contoso.com"))
    assert _refused_for_its_role(response) == (not EXPECTED[name][1]), response.get_body()


@pytest.mark.parametrize("name", GUARDED)
async def test_a_listed_client_holds_the_roles_lifecycle_http_roles_names(fakes, entra, name):
    entra.setenv("LIFECYCLE_HTTP_ALLOWED_CLIENTS", CLIENT)
    entra.setenv("LIFECYCLE_HTTP_ROLES", READ)
    response = await _call(name, principals.application(CLIENT, OBJECT))
    assert _refused_for_its_role(response) == (EXPECTED[name][0] != READ)


@pytest.mark.parametrize("name", GUARDED)
async def test_without_app_service_authentication_every_route_answers_401(fakes, entra, name):
    entra.delenv("WEBSITE_AUTH_ENABLED")
    response = await _call(name, principals.application(CLIENT, OBJECT, ADMIN))
    assert response.status_code == 401


@pytest.mark.parametrize("name", GUARDED)
async def test_a_refused_caller_never_reaches_the_services(entra, name):
    from lifecycle.wiring import container

    def unbuildable() -> Any:
        raise AssertionError("the services were built for a refused caller")

    container.use(unbuildable)
    try:
        response = await _call(name, principals.application(CLIENT, OBJECT))
    finally:
        container.reset()
    assert _refused_for_its_role(response)


def test_docs_roles_md_lists_every_route_with_its_role():
    import re

    from tests.support import ROOT

    row = re.compile(r"^\| `(?P<method>[A-Z]+) /api/(?P<route>[^`]+)` \| `(?P<role>Guests\.\w+)` \| "
                     r"(?P<sponsors>their own guests|no) \|$")
    documented = {(m["method"], m["route"]): (m["role"], m["sponsors"] != "no")
                  for m in map(row.match, (ROOT / "docs" / "roles.md").read_text(encoding="utf-8").splitlines()) if m}
    expected = {(function.methods[0], function.route): EXPECTED[name] for name, function in FUNCTIONS.items()
                if name in EXPECTED}
    assert documented == expected

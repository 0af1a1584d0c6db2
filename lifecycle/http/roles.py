"""Who may call what. With LIFECYCLE_HTTP_AUTH=entra each route requires one app role of the API's app registration
(ROUTE_RULES): Guests.Read (read, list, history, plan, runs), Guests.Manage (what flows need: invite, groups,
disable, enable, extend, re-invite) or Guests.Admin (everything: delete, restore, adopt, approve a plan); Admin holds
Manage, Manage holds Read. A signed-in user without the role a route requires is a sponsor: a route that serves
sponsors (`Rule.sponsors`) lets them in, and its service then acts only on the guests they sponsor (the record's
`sponsors`, confirmed in Graph before a write); any other route refuses them, 403 naming the role.

A caller holds the roles its token carries (App Service authentication passes the `roles` claim in
x-ms-client-principal), and, when its client application id is in LIFECYCLE_HTTP_ALLOWED_CLIENTS or its object id in
LIFECYCLE_HTTP_ALLOWED_PRINCIPALS, the roles LIFECYCLE_HTTP_ROLES names (default Guests.Admin). With function keys
(the default mode) the key is admin: it holds every role.

A route missing from ROUTE_RULES requires Guests.Admin (closed by default); tests/unit/test_route_roles.py fails
for it, so each new route chooses its role here."""
from __future__ import annotations

from dataclasses import dataclass

import azure.functions as func

from lifecycle.config import AppRole, EntraAccess, entra_authentication_enabled
from lifecycle.errors import Forbidden
from lifecycle.http.auth import (
    CLIENT_CLAIMS,
    FUNCTION_KEY_ACTOR,
    OBJECT_ID_CLAIMS,
    PRINCIPAL_HEADER,
    ROLE_CLAIMS,
    actor_of,
    platform_authentication_on,
    principal_claims,
    require_authenticated_caller,
)

READ, MANAGE, ADMIN = AppRole.READ, AppRole.MANAGE, AppRole.ADMIN


@dataclass(frozen=True)
class Rule:
    """What a route requires: an app role, or (`sponsors`) a signed-in user acting for the guests they sponsor."""

    role: AppRole
    sponsors: bool = False

    def describe(self) -> str:
        holders = ", ".join(role.value for role in AppRole if self.role in role.implied)
        text = f"the app role {self.role.value} (held by {holders})"
        return text + (", or a signed-in sponsor, for the guests they sponsor" if self.sponsors else "")


ROUTE_RULES: dict[str, Rule] = {
    # guests: read and list
    "get_guest": Rule(READ, sponsors=True),
    "list_guests": Rule(READ),
    "my_guests": Rule(READ, sponsors=True),
    "expiry_plan": Rule(READ),
    "guest_history": Rule(READ),  # not for sponsors: its handler does not ask which guests they sponsor
    "list_runs": Rule(READ),
    "get_run": Rule(READ),
    # what flows need
    "invite_guest": Rule(MANAGE),
    "add_guest_to_group": Rule(MANAGE),
    "remove_guest_from_group": Rule(MANAGE),
    "disable_guest": Rule(MANAGE),
    "enable_guest": Rule(MANAGE),
    "extend_guest": Rule(MANAGE),
    "reinvite_guest": Rule(MANAGE),
    "attest_guest": Rule(MANAGE, sponsors=True),
    # everything else
    "delete_guest": Rule(ADMIN),
    "restore_guest": Rule(ADMIN),
    "adopt_guests": Rule(ADMIN),
    "approve_plan": Rule(ADMIN),
}
"""The rule of each HTTP function that runs the `authenticate` step, by function name."""

UNLISTED = Rule(ADMIN)
"""The rule of a route ROUTE_RULES does not list: administrators only."""

USER_CLAIMS = ("scp", "http://schemas.microsoft.com/identity/claims/scope", "preferred_username", "upn",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
"""Claims only a user's token carries (a delegated access token's scopes, an ID token's or a user token's sign-in
name); an application's own token (a managed identity's) carries none of them."""
TOKEN_KIND_CLAIM = "idtyp"  # optional claim: "app" in an application's token, "user" in a user's


def rule_for(function_name: str) -> Rule:
    return ROUTE_RULES.get(function_name, UNLISTED)


@dataclass(frozen=True)
class Caller:
    """Who called, as App Service authentication vouched for it: `roles` with every role each implies, `object_id`
    in lower case ("" when unknown), `user` when it is a signed-in user rather than an application."""

    actor: str
    object_id: str
    roles: frozenset[AppRole]
    user: bool

    def holds(self, role: AppRole) -> bool:
        return role in self.roles

    def sponsor_id(self, role: AppRole) -> str | None:
        """None when the caller holds `role` (it acts on any guest), else its object id: it acts as a sponsor, on
        the guests it sponsors only."""
        return None if self.holds(role) else self.object_id

    def to_body(self) -> dict[str, object]:
        return {"id": self.object_id or None, "name": self.actor,
                "roles": [role.value for role in AppRole if role in self.roles], "user": self.user}


KEY_ROLES = ADMIN.implied


def caller_of(req: func.HttpRequest) -> Caller:
    """The caller of a request that `authorize` let through. With function keys, the key: every role."""
    if not entra_authentication_enabled():
        return Caller(actor_of(req), "", KEY_ROLES, user=False)
    if not (platform_authentication_on() and req.headers.get(PRINCIPAL_HEADER)):
        return Caller(actor_of(req), "", frozenset(), user=False)
    claims = principal_claims(req)
    types = {typ for typ, _ in claims}
    values = dict(claims)
    object_id = (req.headers.get(f"{PRINCIPAL_HEADER}-id")
                 or next((value for typ, value in claims if typ in OBJECT_ID_CLAIMS), "")).strip().lower()
    clients = {value for typ, value in claims if typ in CLIENT_CLAIMS}
    known = {role.value: role for role in AppRole}
    roles = {known[value] for typ, value in claims if typ in ROLE_CLAIMS and value in known}
    roles |= EntraAccess.from_env().granted(clients, object_id)
    user = values.get(TOKEN_KIND_CLAIM, "").lower() != "app" and bool(types & set(USER_CLAIMS))
    implied = frozenset(held for role in roles for held in role.implied)
    return Caller(actor_of(req), object_id, implied, user=user)


def authorize(req: func.HttpRequest, rule: Rule) -> Caller:
    """The caller, if `rule` lets it in: 401 in Entra mode without App Service authentication, 403
    (CallerNotAllowed, naming the role) for a caller without the role, unless the route serves sponsors and the
    caller is a signed-in user (its service then restricts it to the guests it sponsors)."""
    require_authenticated_caller(req)
    caller = caller_of(req)
    if caller.holds(rule.role) or (rule.sponsors and caller.user and caller.object_id):
        return caller
    held = ", ".join(role.value for role in AppRole if role in caller.roles) or "none"
    raise Forbidden(
        f"this route requires {rule.describe()}; the caller holds {'no app role' if held == 'none' else held}. "
        "Assign the app role to the caller on the API's enterprise application (or, for an application, list its "
        "client id in LIFECYCLE_HTTP_ALLOWED_CLIENTS or its object id in LIFECYCLE_HTTP_ALLOWED_PRINCIPALS: listed "
        "callers hold the roles LIFECYCLE_HTTP_ROLES names)",
        code="CallerNotAllowed", details=[{"requiredRole": rule.role.value, "sponsorsAllowed": rule.sponsors,
                                           "callerRoles": [] if held == "none" else held.split(", ")}])


__all__ = ["ADMIN", "Caller", "FUNCTION_KEY_ACTOR", "MANAGE", "READ", "ROUTE_RULES", "Rule", "UNLISTED", "authorize",
           "caller_of", "rule_for"]

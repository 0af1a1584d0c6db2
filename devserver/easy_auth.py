"""App Service authentication ("Easy Auth", Microsoft Entra provider) as the development server plays it with
LIFECYCLE_HTTP_AUTH=entra, faithful enough to test the app's side of it offline (docs/roles.md):

- `GET /.auth/login/aad?user=<UPN, mail or object id>&post_login_redirect_uri=<path>` signs a browser in as one of
  the emulated tenant's users (the Graph emulator's, read through its control API; a deleted or blocked account
  cannot sign in), sets the `AppServiceAuthSession` cookie and redirects to the path (only a path on this site, as
  App Service allows without `allowedExternalRedirectUrls`). Without `user` it shows a small sign-in form: the page
  Microsoft Entra would show. `post_login_redirect_url`, the older name, works too.
- `GET /.auth/me` answers as App Service does: `[{"provider_name": "aad", "user_id", "user_claims", "expires_on"}]`
  for a session (there are no tokens to give: the development server has none), 401 without one.
- `GET /.auth/logout[?post_logout_redirect_uri=<path>]` ends the session.
- Every request to the functions has the client's own `x-ms-client-principal`, `-id`, `-name` and `-idp` headers
  removed, and those of the session's user set (with the user's app roles); a request without a session to a path
  App Service authentication guards is answered 401 by the "platform", as `unauthenticatedClientAction: Return401`
  does. The paths it lets through without a session are those infra/modules/entra-auth.bicep excludes
  (EXCLUDED_PATHS; tests/infra checks that they agree).
- The app is told that the platform's authentication is on: `WEBSITE_AUTH_ENABLED=true`.

The users' app roles come from DEVSERVER_APP_ROLES: `;`-separated `<UPN, mail or object id>=<role>[,<role>...]`,
e.g. `admin@contoso.com=Guests.Admin;rita@contoso.com=Guests.Read`; a user it does not name holds no role (a sponsor).

For tests that play the platform themselves, DEVSERVER_TRUST_PRINCIPAL_HEADERS=true passes the principal headers a
client sends through unchanged, from a loopback client only (never an app setting in Azure: there the platform
sets these headers). Bearer tokens are not checked here: without a session or trusted headers a request is
unauthenticated."""
from __future__ import annotations

import base64
import html
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from lifecycle.config import is_loopback_host

LOGIN_PATH = "/.auth/login/aad"
ME_PATH = "/.auth/me"
LOGOUT_PATH = "/.auth/logout"
SESSION_COOKIE = "AppServiceAuthSession"
SESSION_SECONDS = 8 * 3600
EXCLUDED_PATHS = ("/api/health", "/api/portal", "/api/portal.js", "/api/portal.css")
"""What App Service authentication lets through without a session (infra/modules/entra-auth.bicep excludedPaths)."""
PRINCIPAL_HEADERS = ("x-ms-client-principal", "x-ms-client-principal-id", "x-ms-client-principal-name",
                     "x-ms-client-principal-idp")
ROLES_SETTING = "DEVSERVER_APP_ROLES"
TRUST_SETTING = "DEVSERVER_TRUST_PRINCIPAL_HEADERS"
TENANT_ID = "72f988bf-0000-4000-8000-00000000de50"  # the emulated tenant (a fixed GUID)
API_CLIENT_ID = "5e1f0d1c-0000-4000-8000-0000000000a1"  # the API's app registration as the emulated tenant has it
ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_TYPE = "name"
OBJECT_ID_TYPE = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TENANT_TYPE = "http://schemas.microsoft.com/identity/claims/tenantid"


class SignInRefused(Exception):
    """Microsoft Entra would not sign this user in (unknown, deleted or blocked), or there is no emulated tenant."""


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user, as its ID token describes it."""

    object_id: str
    upn: str
    name: str
    roles: tuple[str, ...]
    expires: float

    def claims(self) -> list[dict[str, str]]:
        now = int(time.time())
        found = [("aud", API_CLIENT_ID), ("iss", f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"),
                 ("iat", str(now)), ("exp", str(int(self.expires))), (NAME_TYPE, self.name),
                 (OBJECT_ID_TYPE, self.object_id), ("preferred_username", self.upn), (TENANT_TYPE, TENANT_ID),
                 ("ver", "2.0"), *(("roles", role) for role in self.roles)]
        return [{"typ": typ, "val": val} for typ, val in found]

    def headers(self) -> dict[str, str]:
        """The headers App Service authentication sets for this user's requests."""
        principal = {"auth_typ": "aad", "claims": self.claims(), "name_typ": NAME_TYPE, "role_typ": ROLE_TYPE}
        return {"x-ms-client-principal": base64.b64encode(json.dumps(principal).encode()).decode(),
                "x-ms-client-principal-id": self.object_id, "x-ms-client-principal-name": self.upn,
                "x-ms-client-principal-idp": "aad"}


def parse_roles(value: str) -> dict[str, tuple[str, ...]]:
    """DEVSERVER_APP_ROLES: user (lower case) -> roles; ValueError for an entry that is not `user=role[,role]`."""
    found: dict[str, tuple[str, ...]] = {}
    for entry in (part.strip() for part in value.split(";")):
        if not entry:
            continue
        user, sep, roles = entry.partition("=")
        names = tuple(role.strip() for role in roles.split(",") if role.strip())
        if not sep or not user.strip() or not names:
            raise ValueError(f"{ROLES_SETTING}: '{entry}' is not <UPN, mail or object id>=<role>[,<role>...]")
        found[user.strip().lower()] = found.get(user.strip().lower(), ()) + names
    return found


@dataclass
class EasyAuth:
    """The emulated platform: sessions, the /.auth routes and the principal headers."""

    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    trust_client_headers: bool = False
    sessions: dict[str, SignedIn] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> EasyAuth:
        """Read DEVSERVER_APP_ROLES and DEVSERVER_TRUST_PRINCIPAL_HEADERS, and tell the app that the platform's
        authentication is on (WEBSITE_AUTH_ENABLED)."""
        os.environ["WEBSITE_AUTH_ENABLED"] = "true"
        trust = os.environ.get(TRUST_SETTING, "").strip().lower() == "true"
        return cls(parse_roles(os.environ.get(ROLES_SETTING, "")), trust)

    # --- requests to the functions ---------------------------------------------------------------
    def principal_headers(self, request: Request) -> dict[str, str] | None:
        """The principal headers this request reaches the app with: the trusted client's own (a loopback client
        with DEVSERVER_TRUST_PRINCIPAL_HEADERS), else its session's; None when it is not authenticated."""
        if self.trust_client_headers and _loopback(request) and request.headers.get(PRINCIPAL_HEADERS[0]):
            return {name: request.headers[name] for name in PRINCIPAL_HEADERS if name in request.headers}
        session = self._session(request)
        return session.headers() if session else None

    @staticmethod
    def guards(path: str) -> bool:
        """Whether App Service authentication refuses this path without a session (Return401)."""
        return path not in EXCLUDED_PATHS

    # --- /.auth ----------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [Route(LOGIN_PATH, self.login, methods=["GET"]), Route(ME_PATH, self.me, methods=["GET"]),
                Route(LOGOUT_PATH, self.logout, methods=["GET"])]

    async def login(self, request: Request) -> Response:
        target = (request.query_params.get("post_login_redirect_uri")
                  or request.query_params.get("post_login_redirect_url") or "/")
        if not _local_path(target):
            return _page("Sign-in refused", "post_login_redirect_uri must be a path on this site.", 400)
        user = request.query_params.get("user", "").strip()
        if not user:
            return _sign_in_form(target)
        try:
            signed_in = await self._sign_in(user)
        except SignInRefused as refused:
            return _page("Sign-in refused", str(refused), 400)
        session = secrets.token_urlsafe(32)
        self.sessions[session] = signed_in
        response = RedirectResponse(target, status_code=302)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_SECONDS, path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    async def me(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return Response(status_code=401)
        expires = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(session.expires))
        return JSONResponse([{"provider_name": "aad", "user_id": session.upn, "user_claims": session.claims(),
                              "expires_on": expires}])

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        target = request.query_params.get("post_logout_redirect_uri") or ""
        response: Response = (RedirectResponse(target, status_code=302) if _local_path(target)
                              else _page("Signed out", "You have signed out.", 200))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- the emulated tenant ---------------------------------------------------------------------
    def _session(self, request: Request) -> SignedIn | None:
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if session is not None and session.expires < time.time():
            self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
            return None
        return session

    async def _sign_in(self, user: str) -> SignedIn:
        found = await _emulated_user(user)
        if found.get("deleted"):
            raise SignInRefused(f"'{user}' was deleted from the emulated tenant")
        if found.get("accountEnabled") is False:
            raise SignInRefused(f"'{user}' is blocked from signing in (accountEnabled is false)")
        object_id = str(found["id"]).lower()
        upn = found.get("userPrincipalName") or found.get("mail") or object_id
        names = {object_id, upn.lower(), str(found.get("mail") or "").lower(), user.lower()}
        roles = tuple(dict.fromkeys(role for name in sorted(names) if name for role in self.roles.get(name, ())))
        return SignedIn(object_id, upn, found.get("displayName") or upn, roles, time.time() + SESSION_SECONDS)


async def _emulated_user(user: str) -> dict[str, Any]:
    """The emulated tenant's user named by `user` (UPN, mail or object id), from the Graph emulator's control API
    beside GRAPH_BASE_URL."""
    graph = os.environ.get("GRAPH_BASE_URL", "").rstrip("/")
    if not graph or not is_loopback_host(urlsplit(graph).hostname):
        raise SignInRefused("the development server signs in the users of the Graph emulator only: point "
                            "GRAPH_BASE_URL at one (make run, or python -m lifecycle serve --emulate-graph)")
    control = graph.rsplit("/", 1)[0] + "/_emulator"
    try:
        async with httpx.AsyncClient(base_url=control, timeout=10) as client:
            response = await client.get(f"/users/{quote(user, safe='')}")
            if response.status_code == 200:
                return dict(response.json())
            response = await client.get("/users", params={"mail": user})
    except httpx.HTTPError as exc:
        raise SignInRefused(f"the Graph emulator at {control} does not answer ({type(exc).__name__})") from None
    live = [found for found in response.json() if not found.get("deleted")] if response.status_code == 200 else []
    if not live:
        raise SignInRefused(f"no user '{user}' in the emulated tenant (give a userPrincipalName, mail or object id)")
    return dict(live[0])


def _loopback(request: Request) -> bool:
    return request.client is not None and is_loopback_host(request.client.host)


def _local_path(target: str) -> bool:
    """A path on this site: starts with one slash, no scheme, no host, no backslash."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target and not urlsplit(
        target).netloc


def _page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                        f"</title></head><body><main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main>"
                        "</body></html>", status)


def _sign_in_form(target: str) -> HTMLResponse:
    """The emulated Microsoft Entra sign-in page: which user of the emulated tenant to be."""
    return HTMLResponse(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Sign in (emulated Microsoft Entra ID)</title></head><body><main>"
        "<h1>Sign in</h1><p>Development server: sign in as a user of the emulated tenant.</p>"
        f"<form method=\"get\" action=\"{LOGIN_PATH}\">"
        "<label for=\"user\">User (userPrincipalName, mail or object id)</label><br>"
        "<input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" required autofocus>"
        f"<input type=\"hidden\" name=\"post_login_redirect_uri\" value=\"{html.escape(target, quote=True)}\">"
        "<button type=\"submit\">Sign in</button></form></main></body></html>")

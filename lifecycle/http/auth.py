"""Who may call and who called: with LIFECYCLE_HTTP_AUTH=entra a request must have come through App Service
authentication (401 else), and its caller must hold one of the app roles LIFECYCLE_HTTP_ROLES names or be listed in
LIFECYCLE_HTTP_ALLOWED_CLIENTS / LIFECYCLE_HTTP_ALLOWED_PRINCIPALS (403 else): any principal of the tenant that can
get a token is not enough. The actor written to the audit is the Entra principal it vouched for, else the function
key."""
from __future__ import annotations

import base64
import json
import os

import azure.functions as func

from lifecycle.config import EntraAccess, entra_authentication_enabled
from lifecycle.errors import Forbidden, Unauthorized
from lifecycle.http.errors import loggable

FUNCTION_KEY_ACTOR = "function-key"
PRINCIPAL_HEADER = "x-ms-client-principal"


def platform_authentication_on() -> bool:
    return os.environ.get("WEBSITE_AUTH_ENABLED", "").lower() == "true"


ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
CLIENT_CLAIMS = ("appid", "azp")
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")


def require_authenticated_caller(req: func.HttpRequest) -> None:
    """In Entra mode, refuse (401) a request that App Service authentication did not let through, and (403) a caller
    that holds none of the required app roles and is in no allow-list."""
    if not entra_authentication_enabled():
        return
    if not (platform_authentication_on() and req.headers.get(PRINCIPAL_HEADER)):
        raise Unauthorized("this API requires Microsoft Entra authentication (App Service authentication)")
    access = EntraAccess.from_env()
    claims = _principal_claims(req)
    roles = {value for typ, value in claims if typ in ROLE_CLAIMS}
    clients = {value for typ, value in claims if typ in CLIENT_CLAIMS}
    object_id = req.headers.get(f"{PRINCIPAL_HEADER}-id") or next(
        (value for typ, value in claims if typ in OBJECT_ID_CLAIMS), "")
    if not access.admits(roles, clients, object_id):
        raise Forbidden(_refusal(access), code="CallerNotAllowed")


def _refusal(access: EntraAccess) -> str:
    """What to configure so that the caller is let in."""
    if not access.configured:
        return ("Microsoft Entra authentication is on but no caller is allowed: set LIFECYCLE_HTTP_ROLES (app roles "
                "of the API's app registration, assigned to the callers) or LIFECYCLE_HTTP_ALLOWED_CLIENTS / "
                "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS")
    roles = ", ".join(sorted(access.roles)) or "none"
    return (f"the caller holds none of the app roles LIFECYCLE_HTTP_ROLES names ({roles}) and is not listed in "
            "LIFECYCLE_HTTP_ALLOWED_CLIENTS (client application id) or LIFECYCLE_HTTP_ALLOWED_PRINCIPALS (object id): "
            "assign it one of those app roles on the API's enterprise application, or list it")


def actor_of(req: func.HttpRequest) -> str:
    """Who called: the Entra principal that App Service authentication vouched for, else the function key.
    The principal headers are trusted only when the platform's authentication is on (it sets and sanitises them)."""
    if not platform_authentication_on():
        return FUNCTION_KEY_ACTOR
    name = req.headers.get(f"{PRINCIPAL_HEADER}-name") or _principal_claim(req, "name", "appid", "azp")
    principal = req.headers.get(f"{PRINCIPAL_HEADER}-id") or _principal_claim(
        req, "http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
    if name or principal:
        return loggable(f"principal:{name or ''}{'/' + principal if principal else ''}", 256)
    return FUNCTION_KEY_ACTOR


def _principal_claim(req: func.HttpRequest, *types: str) -> str:
    values = dict(_principal_claims(req))
    return next((values[t] for t in types if values.get(t)), "")


def _principal_claims(req: func.HttpRequest) -> list[tuple[str, str]]:
    """The (type, value) claims of `x-ms-client-principal` (base64 JSON with `claims`; a role is one claim each,
    of type `roles` or the principal's `role_typ`); none when the header is absent or unreadable."""
    encoded = req.headers.get(PRINCIPAL_HEADER)
    if not encoded:
        return []
    try:
        principal = json.loads(base64.b64decode(encoded))
        role_type = principal.get("role_typ")
        found = [(str(c.get("typ")), str(c.get("val"))) for c in principal.get("claims", [])
                 if isinstance(c, dict) and c.get("val") is not None]
    except (ValueError, TypeError, AttributeError):
        return []
    return [("roles", value) if role_type and typ == role_type else (typ, value) for typ, value in found]

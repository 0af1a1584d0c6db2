"""Who called: with LIFECYCLE_HTTP_AUTH=entra a request must have come through App Service authentication (401
else); which app role each route requires, and what the caller holds, is lifecycle/http/roles.py (403). The actor
written to the audit is the Entra principal App Service authentication vouched for, else the function key."""
from __future__ import annotations

import base64
import hashlib
import json
import os

import azure.functions as func

from lifecycle.config import entra_authentication_enabled
from lifecycle.errors import Unauthorized
from lifecycle.http.errors import loggable

FUNCTION_KEY_ACTOR = "function-key"
PRINCIPAL_HEADER = "x-ms-client-principal"


def platform_authentication_on() -> bool:
    return os.environ.get("WEBSITE_AUTH_ENABLED", "").lower() == "true"


ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
CLIENT_CLAIMS = ("appid", "azp")
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")


def require_authenticated_caller(req: func.HttpRequest) -> None:
    """In Entra mode, refuse (401) a request that App Service authentication did not let through (the app roles a
    route requires are checked after this: lifecycle/http/roles.py)."""
    if not entra_authentication_enabled():
        return
    if not (platform_authentication_on() and req.headers.get(PRINCIPAL_HEADER)):
        raise Unauthorized("this API requires Microsoft Entra authentication (App Service authentication)")


def actor_of(req: func.HttpRequest) -> str:
    """Who called: the Entra principal that App Service authentication vouched for, else the function key.
    The principal headers are trusted only when the platform's authentication is on (it sets and sanitises them)."""
    if not platform_authentication_on():
        return key_actor(req)
    name = req.headers.get(f"{PRINCIPAL_HEADER}-name") or _principal_claim(req, "name", "appid", "azp")
    principal = req.headers.get(f"{PRINCIPAL_HEADER}-id") or _principal_claim(
        req, "http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
    if name or principal:
        return loggable(f"principal:{name or ''}{'/' + principal if principal else ''}", 256)
    return key_actor(req)


KEY_HEADER = "x-functions-key"
KEY_PARAMETER = "code"


def key_actor(req: func.HttpRequest) -> str:
    """Which key called: `function-key:<fingerprint>`, the first 12 hex digits of the key's SHA-256, never the key.
    The Functions host knows the key's name (host key, or a named function key) but does not pass it to a Python
    worker, so the audit names the key by its fingerprint: `python -m lifecycle key-fingerprint` (or
    `printf %s "$KEY" | sha256sum | cut -c1-12`) tells which of the app's keys it is. No key seen (a local run
    without one): `function-key`."""
    key = req.headers.get(KEY_HEADER) or req.params.get(KEY_PARAMETER) or ""
    return f"{FUNCTION_KEY_ACTOR}:{key_fingerprint(key)}" if key else FUNCTION_KEY_ACTOR


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _principal_claim(req: func.HttpRequest, *types: str) -> str:
    values = dict(principal_claims(req))
    return next((values[t] for t in types if values.get(t)), "")


def principal_claims(req: func.HttpRequest) -> list[tuple[str, str]]:
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

"""Who may call and who called: with LIFECYCLE_HTTP_AUTH=entra a request must have come through App Service
authentication; the actor written to the audit is the Entra principal it vouched for, else the function key."""
from __future__ import annotations

import base64
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


def require_authenticated_caller(req: func.HttpRequest) -> None:
    """In Entra mode, refuse (401) a request that App Service authentication did not let through."""
    if entra_authentication_enabled() and not (platform_authentication_on() and req.headers.get(PRINCIPAL_HEADER)):
        raise Unauthorized("this API requires Microsoft Entra authentication (App Service authentication)")


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
    encoded = req.headers.get(PRINCIPAL_HEADER)
    if not encoded:
        return ""
    try:
        claims = json.loads(base64.b64decode(encoded)).get("claims", [])
        values = {c.get("typ"): c.get("val") for c in claims if isinstance(c, dict)}
    except (ValueError, TypeError, AttributeError):
        return ""
    return next((str(values[t]) for t in types if values.get(t)), "")

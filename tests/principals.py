"""The headers App Service authentication sets for a caller it let through (x-ms-client-principal and its -id, -name,
-idp siblings), for tests that play the platform."""
from __future__ import annotations

import base64
import json
import uuid

ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_TYPE = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
OBJECT_ID_TYPE = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def encode(*claims: tuple[str, str], role_typ: str | None = None) -> str:
    """x-ms-client-principal: base64 JSON with the claims (and `role_typ` when given)."""
    body: dict = {"auth_typ": "aad", "claims": [{"typ": typ, "val": val} for typ, val in claims]}
    if role_typ:
        body["role_typ"] = role_typ
    return base64.b64encode(json.dumps(body).encode()).decode()


def user(object_id: str, upn: str, *roles: str) -> dict[str, str]:
    """A signed-in user (a browser session's ID token claims), holding `roles`."""
    claims = [("aud", str(uuid.uuid4())), (OBJECT_ID_TYPE, object_id), ("preferred_username", upn), ("name", upn),
              *((ROLE_TYPE, role) for role in roles)]
    return {"x-ms-client-principal": encode(*claims, role_typ=ROLE_TYPE), "x-ms-client-principal-id": object_id,
            "x-ms-client-principal-name": upn, "x-ms-client-principal-idp": "aad"}


def application(client_id: str, object_id: str, *roles: str) -> dict[str, str]:
    """An application's own token (a managed identity's): no user claims, holding `roles`."""
    claims = [("appid", client_id), ("azp", client_id), ("oid", object_id), ("idtyp", "app"),
              *(("roles", role) for role in roles)]
    return {"x-ms-client-principal": encode(*claims), "x-ms-client-principal-id": object_id,
            "x-ms-client-principal-idp": "aad"}

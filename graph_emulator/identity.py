"""A local managed-identity endpoint: the App Service / Azure Functions protocol that azure-identity's
ManagedIdentityCredential speaks when the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER.

Protocol (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference, and
azure-identity's `_credentials/app_service.py` + `_internal/managed_identity_client.py`):
`GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]` with the header
`X-IDENTITY-HEADER: <IDENTITY_HEADER>`; the answer is JSON `access_token`, `expires_on` (epoch seconds, as a string),
`resource`, `token_type` (`Bearer`) and `client_id` (response shape: Azure/azure-sdk-for-python#11346). A request
without the right header is refused with 401 (as App Service answers, Azure/azure-sdk-for-js#11595), one without
`resource` or with another api-version is a 400.

Tokens are JWT-shaped like Microsoft Entra v1 access tokens (iss `https://sts.windows.net/<tenant>/`, aud = the
resource, iat/nbf/exp, tid, oid, appid, jti), signed with a key only this endpoint holds, so a service can tell
the tokens it issued from any other string. The endpoint counts tokens issued per resource, which proves caching.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN_PATH = "/msi/token"
CONTROL_PATH = "/_emulator/identity"
API_VERSION = "2019-08-01"
SECRET_HEADER = "X-IDENTITY-HEADER"
TOKEN_LIFETIME_SECONDS = 24 * 3600  # App Service hands out tokens valid for about a day
_ALGORITHM = "HS256"


@dataclass
class IdentityIssuer:
    """The platform's identity: a tenant, a user-assigned identity (client id + object id), the endpoint's secret,
    and the record of tokens issued. Survives the emulator's reset, as a platform identity outlives a directory."""

    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lifetime_seconds: int = TOKEN_LIFETIME_SECONDS
    issued: Counter[str] = field(default_factory=Counter)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def issue(self, resource: str) -> dict[str, Any]:
        """A token for `resource`, counted; returns the App Service answer body."""
        now = int(time.time())
        expires_on = now + self.lifetime_seconds
        claims = {"aud": resource, "iss": self.issuer, "iat": now, "nbf": now, "exp": expires_on,
                  "tid": self.tenant_id, "oid": self.object_id, "sub": self.object_id, "appid": self.client_id,
                  "idtyp": "app", "ver": "1.0", "jti": str(uuid.uuid4())}
        self.issued[resource] += 1
        token = jwt.encode(claims, self._key, algorithm=_ALGORITHM, headers={"typ": "JWT"})
        return {"access_token": token, "expires_on": str(expires_on), "resource": resource, "token_type": "Bearer",
                "client_id": self.client_id}

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this issuer signed and that is within its lifetime, else None."""
        try:
            return jwt.decode(token, self._key, algorithms=[_ALGORITHM], options={"verify_aud": False},
                              issuer=self.issuer, leeway=5)
        except jwt.PyJWTError:
            return None

    def to_json(self) -> dict[str, Any]:
        """What GET /_emulator/identity shows: the identity and the tokens issued per resource."""
        return {"tenantId": self.tenant_id, "clientId": self.client_id, "objectId": self.object_id,
                "issued": dict(self.issued), "total": sum(self.issued.values())}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "message": message}, status)


def token_endpoint(issuer: IdentityIssuer) -> Route:
    """GET /msi/token, the App Service managed-identity endpoint."""
    async def endpoint(request: Request) -> Response:
        if not secrets.compare_digest(request.headers.get(SECRET_HEADER, ""), issuer.secret):
            return _error(401, f"{SECRET_HEADER} is missing or does not match")
        query = request.query_params
        if query.get("api-version") != API_VERSION:
            return _error(400, f"api-version must be {API_VERSION}")
        resource = query.get("resource", "").strip()
        if not resource:
            return _error(400, "resource is required")
        requested = query.get("client_id") or query.get("principal_id") or query.get("mi_res_id")
        if requested is not None and requested.lower() not in (issuer.client_id, issuer.object_id):
            return _error(400, f"no managed identity {requested} is assigned to this app")
        return JSONResponse(issuer.issue(resource))
    return Route(TOKEN_PATH, endpoint, methods=["GET"])


def control_routes(issuer: IdentityIssuer) -> list[Route]:
    """GET /_emulator/identity (the identity and issued counts) and DELETE (zero the counts)."""
    async def show(request: Request) -> Response:
        return JSONResponse(issuer.to_json())

    async def clear(request: Request) -> Response:
        issuer.issued.clear()
        return Response(status_code=204)
    return [Route(CONTROL_PATH, show, methods=["GET"]), Route(CONTROL_PATH, clear, methods=["DELETE"])]


def identity_routes(issuer: IdentityIssuer) -> list[Route]:
    """The token endpoint and its control routes, to mount on a Starlette app."""
    return [token_endpoint(issuer), *control_routes(issuer)]

"""Successful answers: JSON bodies, the guest with its 202 polling headers, and links from a host this app trusts."""
from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from pydantic import BaseModel

from lifecycle.config import is_loopback_host
from lifecycle.domain.model import Guest
from lifecycle.http.schemas import GuestResource

PENDING_RETRY_AFTER = "10"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers=headers or {})


def guest_response(req: func.HttpRequest, guest: Guest, status: int = 200, redeem_url: str | None = None,
                   ignored: tuple[str, ...] = ()) -> func.HttpResponse:
    """200/201 with the guest, or 202 + Location + Retry-After while Graph work is still pending; `ignored`: the
    request's fields a guest already tracked did not take (`ignoredFields`, only then)."""
    headers = {}
    if guest.has_pending_group_changes:
        status = 202
        headers = {"Location": f"{base_url(req)}/api/guests/{guest.id}", "Retry-After": PENDING_RETRY_AFTER}
    body = GuestResource.of(guest, redeem_url).model_dump(mode="json")
    if ignored:
        body["ignoredFields"] = list(ignored)
    else:
        body.pop("ignoredFields")
    return json_response(body, status, headers)


def base_url(req: func.HttpRequest) -> str:
    """The origin for links this API hands out (Location, OpenAPI `servers`), from a host it can trust: the app's own
    host name (WEBSITE_HOSTNAME, set by the platform) or loopback (a local run). Any other Host header, which a caller
    can forge, gives "" and so a relative link."""
    parts = urlsplit(req.url)
    own = os.environ.get("WEBSITE_HOSTNAME", "").lower()
    if own and parts.netloc.lower() == own:
        return f"https://{own}"
    try:
        port = parts.port
    except ValueError:
        return ""
    if is_loopback_host(parts.hostname) and parts.scheme in ("http", "https"):
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    return ""

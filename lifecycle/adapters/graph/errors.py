"""Graph's answers as the project's errors, in one place: `translate` for an SDK or transport error, a failed
`$batch` item made into the error its single call would raise, and the refusals of what a caller referenced."""
from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, overload

import httpx
from azure.core.exceptions import AzureError
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from lifecycle.adapters.identity import GRAPH, identity_unavailable, token_failure
from lifecycle.errors import (
    GraphBadRequest,
    GraphError,
    GraphNotFound,
    GraphPolicyRefusal,
    GraphRejectedInput,
    GraphUnavailable,
    IdentityUnavailable,
)
from lifecycle.request_log import note_request_id

# 400s that mean "not replicated yet" on a reference write right after the user was created ("Not a valid reference
# update" as reported, not in Graph's docs; group-post-members.md: "The source resource object or one of the objects
# being referenced don't exist." — "retry after a brief delay").
_NOT_REPLICATED = ("not a valid reference update", "one of the objects being referenced don't exist")
# A just-invited user answers Directory_ObjectNotFound on an immediate write for a while, no bound documented
# (microsoftgraph/microsoft-graph-docs-contrib#2465: "Unable to read the company information from the directory" on a
# PATCH right after an invitation).
_NOT_REPLICATED_CODES = frozenset({"Directory_ObjectNotFound"})


def _token_failure(exc: Exception, action: str) -> IdentityUnavailable | None:
    """IdentityUnavailable when `exc` is, or was raised from, the credential's failure to give a Graph token: an
    azure-core error reaches this adapter only from the credential (Graph itself is reached through httpx)."""
    if isinstance(exc, (APIError, httpx.TransportError)):
        return None
    if isinstance(exc, AzureError) or token_failure(exc) is not None:
        return identity_unavailable(action, GRAPH, exc)
    return None


@overload
def translate(exc: APIError | httpx.TransportError, action: str) -> GraphError: ...


@overload
def translate(exc: Exception, action: str) -> GraphError | IdentityUnavailable: ...


def translate(exc: Exception, action: str) -> GraphError | IdentityUnavailable:
    """Turn an SDK or transport error into the project's Graph errors; the credential's failure to give Graph's token
    (Graph never asked) into IdentityUnavailable (503, saying what to check)."""
    if (no_token := _token_failure(exc, action)) is not None:
        return no_token
    if isinstance(exc, httpx.TransportError):
        return GraphUnavailable(f"{action}: Graph is unreachable ({type(exc).__name__})")
    assert isinstance(exc, APIError)
    status = exc.response_status_code or 0
    headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or "UnknownError"
    message = getattr(error, "message", None) or str(exc.message or exc)
    info: dict[str, Any] = {"graph_status": status, "graph_code": code, "request_id": headers.get("request-id"),
                            "graph_message": message}
    note_request_id(headers.get("request-id"))
    text = f"{action}: Graph answered {status} {code}: {message}"
    if status in (429, 503, 504):
        return GraphUnavailable(text, retry_after=retry_after(headers), **info)
    lagging = status == 400 and any(phrase in message.lower() for phrase in _NOT_REPLICATED)
    if status == 404 or code in _NOT_REPLICATED_CODES or lagging:
        return GraphNotFound(text, **info)
    if status == 400:
        return GraphBadRequest(text, **info)
    return GraphError(text, **info)


def rejected(error: GraphError, reason: str) -> GraphRejectedInput:
    """The same Graph answer, as a refusal of what the caller referenced (final: 422, never pending)."""
    return GraphRejectedInput(f"{reason} ({error.message})", reason=reason, graph_status=error.graph_status,
                              graph_code=error.graph_code, graph_message=error.graph_message,
                              request_id=error.request_id)


def retry_after(headers: dict[str, str]) -> int | None:
    """Retry-After in whole seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(1, math.ceil(float(value)))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(1, math.ceil((moment - datetime.now(UTC)).total_seconds()))


def sign_in_unavailable(error: GraphError) -> bool:
    """403 for signInActivity: no Entra ID P1 (Authentication_RequestFromNonPremiumTenantOrB2CTenant) or the
    AuditLog.Read.All permission missing. Either way the tenant cannot tell us who signed in."""
    return error.graph_status == 403


def sponsor_refusal(error: GraphError, sponsors: tuple[str, ...]) -> GraphError:
    """Graph's 404 (or a 400 naming a sponsor) for an invitation or sponsor write that names a sponsor who does not
    exist is the caller's bad reference (group-post-members: "404 Not Found when the object being added doesn't
    exist"; the same rule holds for sponsors, which are references too)."""
    text = (error.graph_message or error.message).lower()
    named = [sponsor for sponsor in sponsors if sponsor.lower() in text]
    if named or (sponsors and isinstance(error, GraphNotFound)):
        who = f"the sponsor {named[0]}" if named else "a sponsor"
        return rejected(error, f"{who} does not exist in the directory")
    return error


def invitation_refusal(error: GraphError, email: str) -> GraphPolicyRefusal:
    """Graph's 403 for an invitation: the tenant's external collaboration settings refuse the address's domain (or
    the app lacks User.Invite.All); invitation-post.md is silent on the code, so any 403 is this refusal."""
    domain = email.rpartition("@")[2]
    return GraphPolicyRefusal(
        f"Graph refused to invite an address of {domain} ({error.graph_code}: {error.graph_message}). The tenant's "
        f"external collaboration settings may not allow invitations to this domain (Entra ID > External Identities >"
        f" External collaboration settings), or the app's identity lacks User.Invite.All",
        graph_status=error.graph_status, graph_code=error.graph_code, graph_message=error.graph_message,
        request_id=error.request_id)


def step_failure(answer: dict[str, Any]) -> ODataError:
    """A failed $batch item as the SDK raises a failed single call (status, headers, OData error), so `_call` and
    `translate()` treat it exactly as they would that call: same project error, same throttle handling."""
    body = answer.get("body")
    error = (body.get("error") if isinstance(body, dict) else None) or {}
    failure = ODataError(error=MainError(code=error.get("code"), message=error.get("message")))
    failure.response_status_code = int(answer.get("status") or 0)
    failure.response_headers = {str(name): str(value) for name, value in (answer.get("headers") or {}).items()}
    return failure


def throttle_weight(answer: dict[str, Any]) -> tuple[bool, int]:
    """Which throttled item `_call` is shown: a 429 before a 503/504 (it pauses the worker), the longest Retry-After."""
    return int(answer.get("status") or 0) == 429, retry_after(item_headers(answer)) or 0


def item_headers(answer: dict[str, Any]) -> dict[str, str]:
    """A $batch item answer's headers, names lower-cased."""
    return {str(name).lower(): str(value) for name, value in (answer.get("headers") or {}).items()}

"""Error hierarchy. Every error a caller can cause maps to one HTTP status in `lifecycle.http.errors`."""
from __future__ import annotations

from typing import Any


class LifecycleError(Exception):
    """Base of every error the app raises on purpose."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, details: list[Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code


class ConfigurationError(LifecycleError):
    """A setting is missing or invalid; the app cannot run as configured. `settings` names the settings at fault
    (never their values: the anonymous health report shows the names only)."""

    status = 503
    code = "ConfigurationError"

    def __init__(self, message: str, *, settings: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.settings = settings


# --- caller errors -------------------------------------------------------------------------------
class InvalidRequest(LifecycleError):
    status = 400
    code = "InvalidRequest"


class Unauthorized(LifecycleError):
    status = 401
    code = "Unauthorized"


class Forbidden(LifecycleError):
    """Refused by a safety rule or policy (not a guest, group not managed, domain not allowed)."""

    status = 403
    code = "Forbidden"


class NotFound(LifecycleError):
    status = 404
    code = "NotFound"


class Conflict(LifecycleError):
    """A concurrent change or a request still in progress."""

    status = 409
    code = "Conflict"


class Gone(LifecycleError):
    """What was asked for existed but can no longer be used (a plan past its approval age)."""

    status = 410
    code = "Gone"


class IdempotencyKeyReused(LifecycleError):
    status = 422
    code = "IdempotencyKeyReused"


class LimitExceeded(LifecycleError):
    """The change would make a guest's record hold more than it may (sponsors, groups, attributes): refused before
    anything is written; the message says what to send instead."""

    status = 422
    code = "LimitExceeded"


class UnreadableRecord(LifecycleError):
    """A stored record the app cannot read (a damaged or hand-edited row): named, never a 500; an operator repairs
    or removes it. Not a Conflict: no retry or lost race makes it readable."""

    status = 409
    code = "UnreadableRecord"


# --- dependency errors ---------------------------------------------------------------------------
class DependencyError(LifecycleError):
    """A dependency (Graph, storage) failed. `retry_after` is set when waiting may help."""

    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GraphError(DependencyError):
    """Graph refused a request for a reason retrying will not fix. `maybe_applied`: a write's request reached Graph
    and the answer does not say whether it was carried out (500/502/503/504, a connection lost after sending, in
    any attempt): the caller must read Graph back before deciding it failed (`outcome_unknown`)."""

    status = 502
    code = "GraphError"
    maybe_applied = False

    def __init__(self, message: str, *, graph_status: int | None = None, graph_code: str | None = None,
                 request_id: str | None = None, graph_message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.graph_status = graph_status
        self.graph_code = graph_code
        self.graph_message = graph_message
        self.request_id = request_id


class GraphNotFound(GraphError):
    """The user, group or object does not exist in Graph (or is not visible yet)."""

    status = 404
    code = "NotFound"


class GraphBadRequest(GraphError):
    """Graph answered 400 for a reason other than the ones the adapter turns into results."""

    status = 502
    code = "GraphRejected"


class GraphRejectedInput(GraphError):
    """Graph refused what the caller referenced, for good: an unknown sponsor, a group that no longer exists or
    that refuses members (dynamic, on-premises, role-assignable). Retrying will not help; the caller can fix it.
    `details` carries Graph's own code and message."""

    status = 422
    code = "GraphRejectedInput"

    def __init__(self, message: str, *, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason
        detail = {"graphStatus": self.graph_status, "graphCode": self.graph_code,
                  "graphMessage": self.graph_message}
        if reason:
            detail["reason"] = reason
        self.details = [detail, *self.details]


class GraphConflict(GraphError):
    """Graph refused a write because of the directory's current state, which the caller must resolve first (a
    restore whose userPrincipalName another object now holds). Retrying as it is will not help."""

    status = 409
    code = "GraphConflict"


class GraphPolicyRefusal(GraphError):
    """Graph refused the request by a tenant policy (an invitation the external collaboration settings do not
    allow). `details` carries Graph's own code and message."""

    status = 403
    code = "RefusedByTenantPolicy"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.details = [{"graphStatus": self.graph_status, "graphCode": self.graph_code,
                         "graphMessage": self.graph_message}, *self.details]


class GraphUnavailable(GraphError):
    """Graph throttled (429) or was unavailable (503/504) past the retry budget."""

    status = 503
    code = "GraphUnavailable"


UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 503, 504})


def outcome_unknown(error: LifecycleError) -> bool:
    """Whether a Graph write that raised `error` may still have been carried out."""
    if not isinstance(error, GraphError):
        return False
    if error.maybe_applied or error.graph_status in UNKNOWN_OUTCOME_STATUSES:
        return True
    return isinstance(error, GraphUnavailable) and error.graph_status is None  # the connection dropped


class OutcomeUnknown(DependencyError):
    """A Graph write may or may not have been carried out, and reading Graph back did not settle it: the record
    keeps the operation pending; repeating the request, or the next sweep, finishes it."""

    status = 503
    code = "OutcomeUnknown"


class StorageUnavailable(DependencyError):
    status = 503
    code = "StorageUnavailable"


class IdentityUnavailable(DependencyError):
    """No access token could be had from the app's identity (the managed-identity endpoint unreachable, refusing,
    answering an error or not in time; or no credential at all), so Graph or storage was never asked. The message
    says what an operator should check."""

    status = 503
    code = "IdentityUnavailable"


class ConcurrencyConflict(Conflict):
    """An ETag-guarded write lost to another writer."""

    code = "ConcurrentChange"

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
    """A setting is missing or invalid; the app cannot run as configured."""

    status = 503
    code = "ConfigurationError"


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


class IdempotencyKeyReused(LifecycleError):
    status = 422
    code = "IdempotencyKeyReused"


# --- dependency errors ---------------------------------------------------------------------------
class DependencyError(LifecycleError):
    """A dependency (Graph, storage) failed. `retry_after` is set when waiting may help."""

    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GraphError(DependencyError):
    """Graph refused a request for a reason retrying will not fix."""

    status = 502
    code = "GraphError"

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


class GraphUnavailable(GraphError):
    """Graph throttled (429) or was unavailable (503/504) past the retry budget."""

    status = 503
    code = "GraphUnavailable"


class StorageUnavailable(DependencyError):
    status = 503
    code = "StorageUnavailable"


class ConcurrencyConflict(Conflict):
    """An ETag-guarded write lost to another writer."""

    code = "ConcurrentChange"

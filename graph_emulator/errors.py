"""Graph-shaped errors: an exception carrying status, OData code and message, and the error body Graph sends."""

from __future__ import annotations

from datetime import UTC, datetime

BAD_REQUEST = "BadRequest"
REQUEST_BAD_REQUEST = "Request_BadRequest"
NOT_FOUND = "Request_ResourceNotFound"
OBJECT_NOT_FOUND = "Directory_ObjectNotFound"
REQUEST_DENIED = "Authorization_RequestDenied"
UNSUPPORTED_QUERY = "Request_UnsupportedQuery"


class GraphError(Exception):
    """An error answer in Graph's shape. `kind` tags throttle ("throttled") and injected ("fault") errors."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 kind: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.kind = kind

    def body(self, request_id: str, client_request_id: str) -> dict:
        """The JSON body Graph sends with this error."""
        return error_body(self.code, self.message, request_id, client_request_id)


def error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict:
    """`{"error": {code, message, innerError: {date, request-id, client-request-id}}}` (date without `Z`)."""
    inner = {"date": graph_error_date(), "request-id": request_id, "client-request-id": client_request_id}
    return {"error": {"code": code, "message": message, "innerError": inner}}


def graph_error_date() -> str:
    """Current UTC time in the form Graph's innerError uses: `2026-11-22T10:00:00`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def bad_request(message: str) -> GraphError:
    """400 with code BadRequest (request syntax, OData query and payload errors)."""
    return GraphError(400, BAD_REQUEST, message)


def request_bad_request(message: str) -> GraphError:
    """400 with code Request_BadRequest (directory-level refusals)."""
    return GraphError(400, REQUEST_BAD_REQUEST, message)


def unsupported_query(message: str) -> GraphError:
    """400 with code Request_UnsupportedQuery."""
    return GraphError(400, UNSUPPORTED_QUERY, message)


def not_found(resource_id: str) -> GraphError:
    """404 Request_ResourceNotFound worded as Graph words it for directory objects."""
    message = (f"Resource '{resource_id}' does not exist or one of its queried reference-property "
               "objects are not present.")
    return GraphError(404, NOT_FOUND, message)


def object_not_found() -> GraphError:
    """400 Directory_ObjectNotFound: a write on a user that has not replicated yet, e.g. a PATCH right after its
    invitation (microsoftgraph/microsoft-graph-docs-contrib#2465; no bound on the delay is documented)."""
    return GraphError(400, OBJECT_NOT_FOUND, "Unable to read the company information from the directory.")


def request_denied() -> GraphError:
    """403 Authorization_RequestDenied, as Graph answers a write the caller may not make."""
    return GraphError(403, REQUEST_DENIED, "Insufficient privileges to complete the operation.")


def invalid_object_id(value: str) -> GraphError:
    """400 for an id that is not a GUID where Graph needs one."""
    return request_bad_request(f"Invalid object identifier '{value}'.")


def method_not_allowed() -> GraphError:
    """405 for a known resource with a method Graph does not serve there."""
    return GraphError(405, REQUEST_BAD_REQUEST, "Specified HTTP method is not allowed for the request uri.")


def invalid_json() -> GraphError:
    """400 for a body that is not the JSON object the operation needs."""
    return bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                       "payload is of valid JSON format.")

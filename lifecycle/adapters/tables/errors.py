"""Storage SDK errors translated into the project's errors, in one place: every Table adapter writes and reads inside
`storage_errors`, and an ETag-guarded write inside `lost_race` too. Also the size limits checked before a write."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError

from lifecycle.adapters.identity import STORAGE, identity_unavailable, token_failure
from lifecycle.adapters.tables import codec
from lifecycle.errors import ConcurrencyConflict, InvalidRequest, NotFound, StorageUnavailable

_CONFLICT_CODES = {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ConditionNotMet"}
_TOO_LARGE_CODES = {"PropertyValueTooLarge", "EntityTooLarge", "RequestBodyTooLarge"}


class RecordTooLarge(InvalidRequest):
    """The record would exceed what Table Storage holds: the caller's data, not an outage (never retried)."""

    code = "RecordTooLarge"


def within_limits(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity, if Table Storage can hold it; else a 400 naming the property, before anything is sent."""
    name = codec.oversized_property(entity)
    if name is not None:
        raise RecordTooLarge(f"the record is too large to store ({name}); shorten the request's values",
                             details=[{"field": name, "message": "exceeds Table Storage's limits"}])
    return entity


def _error_code(exc: HttpResponseError) -> str | None:
    """The storage error code: on the exception (transactions) or in the `x-ms-error-code` response header."""
    response = getattr(exc, "response", None)
    return getattr(exc, "error_code", None) or (response.headers.get("x-ms-error-code") if response else None)


@asynccontextmanager
async def storage_errors(action: str) -> AsyncIterator[None]:
    """Translate storage SDK errors into the project's errors: a missing table or row is NotFound (404), never an
    outage; no token from the app's identity is IdentityUnavailable (503, storage was never asked)."""
    try:
        yield
    except ClientAuthenticationError as exc:  # the credential's failure, or storage refusing the token (401/403)
        if token_failure(exc) is not None:
            raise identity_unavailable(action, STORAGE, exc) from exc
        raise StorageUnavailable(f"{action}: storage answered {exc.status_code}", retry_after=5) from exc
    except (ResourceModifiedError, ResourceExistsError) as exc:
        raise ConcurrencyConflict(f"{action}: the record was changed by another request; retry") from exc
    except ResourceNotFoundError as exc:
        raise NotFound(f"{action}: the record does not exist in storage", code="RecordNotFound") from exc
    except (TableTransactionError, HttpResponseError) as exc:
        if exc.status_code == 404:
            raise NotFound(f"{action}: the record does not exist in storage", code="RecordNotFound") from exc
        if _error_code(exc) in _TOO_LARGE_CODES or exc.status_code == 413:
            raise RecordTooLarge(f"{action}: the record is too large to store") from exc
        if not isinstance(exc, TableTransactionError):
            raise StorageUnavailable(f"{action}: storage answered {exc.status_code}", retry_after=5) from exc
        if getattr(exc, "error_code", None) in _CONFLICT_CODES or exc.status_code in (409, 412):
            raise ConcurrencyConflict(f"{action}: the record was changed by another request; retry") from exc
        raise StorageUnavailable(f"{action}: storage refused the transaction ({exc.status_code})",
                                 retry_after=5) from exc
    except AzureError as exc:
        raise StorageUnavailable(f"{action}: storage is unreachable", retry_after=10) from exc


@asynccontextmanager
async def lost_race(action: str) -> AsyncIterator[None]:
    """A write guarded by an ETag whose row is gone lost a race, as one whose ETag changed: ConcurrencyConflict.

    Nested inside `storage_errors`, so the row's absence is decided here, whatever storage_errors makes of a 404."""
    try:
        yield
    except ResourceNotFoundError as exc:
        raise ConcurrencyConflict(f"{action}: the record is gone (another request removed it); retry") from exc
    except TableTransactionError as exc:
        if exc.status_code == 404 or _error_code(exc) == "ResourceNotFound":
            raise ConcurrencyConflict(f"{action}: a record is gone (another request removed it); retry") from exc
        raise

"""Paging over Table Storage queries with opaque continuation tokens the caller hands back (base64 JSON), and the
chunking of long lists into rows that fit Table Storage's limits. Storage SDK exceptions are translated by the
callers (`storage_errors`)."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from azure.data.tables.aio import TableClient

from lifecycle.errors import InvalidRequest

CHUNK_CHARS = 30_000
"""Characters of JSON in one string property (Table Storage holds 32K UTF-16 characters a property; JSON written
with ASCII escapes has as many bytes as characters)."""
ROWS_PER_TRANSACTION = 60  # 60 rows of at most CHUNK_CHARS: under 2 MB, within a transaction's 4 MiB and 100 rows


def encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def decode(token: str | None) -> dict[str, Any] | None:
    """The state a token of `encode` holds; None for no token; InvalidRequest for anything else."""
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("continuationToken is not valid") from None
    if not isinstance(value, dict):
        raise InvalidRequest("continuationToken is not valid")
    return value


def sdk_token(value: Any) -> dict[str, str] | None:
    """A storage continuation token carried inside one of ours, checked."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest("continuationToken is not valid")
    return value


async def page(client: TableClient, text: str, params: dict[str, Any], size: int,
               token: dict[str, str] | None) -> tuple[list[Any], dict[str, str] | None]:
    """One page of the query (at most `size` entities) and the storage token of the next (None: the last)."""
    pages = client.query_entities(text, parameters=params, results_per_page=size).by_page(
        continuation_token=token)  # type: ignore[arg-type]  # the SDK takes its own token back (a dict)
    try:
        entities = [entity async for entity in await pages.__anext__()]
    except StopAsyncIteration:
        entities = []
    return entities, pages.continuation_token or None  # type: ignore[attr-defined]  # AsyncItemPaged's pager


def chunks(items: Sequence[Any]) -> list[str]:
    """`items` as JSON arrays of at most CHUNK_CHARS characters each (ASCII escapes), in order; one item longer than
    that alone is cut to fit (its text kept as `{"truncated": ...}`)."""
    found: list[str] = []
    current: list[str] = []
    size = 2
    for item in items:
        text = json.dumps(item, default=str)
        if len(text) + 2 > CHUNK_CHARS:
            text = json.dumps({"truncated": text[:CHUNK_CHARS - 200]})
        if current and size + len(text) + 1 > CHUNK_CHARS:
            found.append("[" + ",".join(current) + "]")
            current, size = [], 2
        current.append(text)
        size += len(text) + 1
    if current:
        found.append("[" + ",".join(current) + "]")
    return found


def unchunk(texts: Sequence[str]) -> list[Any]:
    return [item for text in texts for item in json.loads(text)]

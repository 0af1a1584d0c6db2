"""OData query options of collection and entity reads: $select, $filter, $top, $skiptoken, $count, $orderby."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request

from .errors import bad_request, unsupported_query
from .odata_filter import ParsedFilter, parse_filter
from .schema import USER_PROPERTIES, USER_SORTABLE, canonical

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
_KNOWN_OPTIONS = frozenset({"$filter", "$select", "$top", "$skiptoken", "$count", "$orderby", "$expand",
                            "$search", "$skip", "$format", "$levels", "$apply", "$deltatoken", "$compute"})
_ADVANCED_MESSAGE = ("Operator '{op}' is not supported because the required parameters might be missing. Try "
                     "adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to "
                     "https://aka.ms/graph-docs/advanced-queries for more information")
_TOKEN_PREFIX = "emulator-offset:"
_UPN_TOKEN_PREFIX = "emulator-upn:"  # then `<seq>:<case-folded userPrincipalName>` of the last user shown


@dataclass
class CollectionQuery:
    """The parsed options of a collection read."""

    select: list[str] | None
    top: int
    offset: int
    count: bool
    filter: ParsedFilter | None = None
    order: tuple[str, bool] | None = None
    after_upn: tuple[str, int] | None = None  # the UPN-index cursor of a `$skiptoken` (a userPrincipalName range)


def check_options(request: Request, allowed: set[str]) -> None:
    """400 for a `$` option the endpoint does not take, an unknown one, or one given twice."""
    for name in set(request.query_params.keys()):
        if not name.startswith("$"):
            continue
        if name not in _KNOWN_OPTIONS:
            raise bad_request(f"Unrecognized query argument specified: '{name}'.")
        if name not in allowed:
            raise bad_request(f"Query option '{name}' is not supported for this request.")
        if len(request.query_params.getlist(name)) > 1:
            raise bad_request(f"Query option '{name}' was specified more than once, but it must be specified "
                              "at most once.")


def select_option(request: Request, catalogue: dict[str, str], type_name: str) -> list[str] | None:
    """Canonical property names named in `$select`, or None when absent; 400 for an unknown property."""
    raw = request.query_params.get("$select")
    return None if raw is None else parse_select(raw, catalogue, type_name)


def parse_select(raw: str, catalogue: dict[str, str], type_name: str) -> list[str]:
    """Canonical property names of a `$select` value; 400 for an unknown property."""
    selected: list[str] = []
    for name in (part.strip() for part in raw.split(",")):
        prop = canonical(catalogue, name) if name else None
        if prop is None:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
        if prop not in selected:
            selected.append(prop)
    return selected


def top_option(request: Request) -> int:
    """Page size from `$top` (default 100, 1..999)."""
    raw = request.query_params.get("$top")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise bad_request(f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive.")
    return int(raw)


def is_eventual(request: Request) -> bool:
    """True when the request carries `ConsistencyLevel: eventual` (advanced query)."""
    return request.headers.get("consistencylevel", "").strip().lower() == "eventual"


def count_option(request: Request) -> bool:
    """`$count=true|false`; true needs ConsistencyLevel: eventual."""
    raw = request.query_params.get("$count")
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() != "true":
        raise bad_request(f"Invalid value '{raw}' for $count: expected true or false.")
    if not is_eventual(request):
        raise unsupported_query("$count is not currently supported without the ConsistencyLevel:eventual header.")
    return True


def filter_option(request: Request, count: bool) -> ParsedFilter | None:
    """The compiled user `$filter`; advanced operators need ConsistencyLevel: eventual and $count=true."""
    raw = request.query_params.get("$filter")
    if raw is None:
        return None
    parsed = parse_filter(raw)
    if parsed.advanced and not (count and is_eventual(request)):
        raise unsupported_query(_ADVANCED_MESSAGE.format(op=parsed.advanced[0]))
    return parsed


def orderby_option(request: Request, filtered: bool, advanced: bool) -> tuple[str, bool] | None:
    """(property, descending) from `$orderby`; sorting a filtered list needs an advanced query."""
    raw = request.query_params.get("$orderby")
    if raw is None:
        return None
    parts = raw.split()
    prop = canonical(USER_PROPERTIES, parts[0]) if parts else None
    if prop is None or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise bad_request(f"Invalid $orderby clause: '{raw}'.")
    if prop not in USER_SORTABLE or (filtered and not advanced):
        raise unsupported_query("Sorting not supported for current query.")
    return prop, len(parts) == 2 and parts[1].lower() == "desc"


def user_collection_query(request: Request) -> CollectionQuery:
    """Every option GET /users takes, validated."""
    check_options(request, {"$filter", "$select", "$top", "$skiptoken", "$count", "$orderby", "$expand"})
    count = count_option(request)
    parsed = filter_option(request, count)
    order = orderby_option(request, parsed is not None, count and is_eventual(request))
    select = select_option(request, USER_PROPERTIES, "user")
    query = CollectionQuery(select, top_option(request), 0, count, parsed, order)
    if parsed is not None and parsed.upn_prefix is not None and order is None:
        query.after_upn = skiptoken_upn(request)
    else:
        query.offset = skiptoken_offset(request)
    return query


def relation_query(request: Request, catalogue: dict[str, str], type_name: str) -> CollectionQuery:
    """Options of a relationship listing (group members, memberOf): $select, $top, $skiptoken, $count."""
    check_options(request, {"$select", "$top", "$skiptoken", "$count"})
    count = count_option(request)
    select = select_option(request, catalogue, type_name)
    return CollectionQuery(select, top_option(request), skiptoken_offset(request), count)


def make_skiptoken(offset: int) -> str:
    """An opaque `$skiptoken` for the page starting at `offset`."""
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode().rstrip("=")


def _decoded_token(request: Request) -> str | None:
    token = request.query_params.get("$skiptoken")
    if token is None:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def skiptoken_offset(request: Request) -> int:
    """The offset a `$skiptoken` stands for (0 without one); 400 for a token this emulator did not issue."""
    decoded = _decoded_token(request)
    if decoded is None:
        return 0
    number = decoded[len(_TOKEN_PREFIX):]
    if not decoded.startswith(_TOKEN_PREFIX) or not number.isdigit():
        raise bad_request("Invalid $skiptoken.")
    return int(number)


def skiptoken_upn(request: Request) -> tuple[str, int] | None:
    """The UPN-index place a `$skiptoken` of a userPrincipalName range stands for (None without one)."""
    decoded = _decoded_token(request)
    if decoded is None:
        return None
    seq, _, upn = decoded[len(_UPN_TOKEN_PREFIX):].partition(":")
    if not decoded.startswith(_UPN_TOKEN_PREFIX) or not seq.isdigit():
        raise bad_request("Invalid $skiptoken.")
    return upn, int(seq)


def make_upn_skiptoken(place: tuple[str, int]) -> str:
    upn, seq = place
    return base64.urlsafe_b64encode(f"{_UPN_TOKEN_PREFIX}{seq}:{upn}".encode()).decode().rstrip("=")


def next_link(request: Request, offset: int, token: str | None = None) -> str:
    """The absolute URL of the next page: the same request with `$skiptoken` for `offset` (or `token`)."""
    pairs = [(key, value) for key, value in request.query_params.multi_items() if key != "$skiptoken"]
    pairs.append(("$skiptoken", token or make_skiptoken(offset)))
    query = urlencode(pairs, quote_via=quote, safe="$,'()/:@")
    return str(request.url.replace(query=query))


def page_after(items: list, request: Request, query: CollectionQuery,
               position: Callable[[Any], int]) -> tuple[list, str | None]:
    """One page of `items` (ascending by `position`) with a cursor `$skiptoken`: the next page starts after the
    last item shown, so objects deleted between pages shift nothing (Graph's directory skiptokens are cursors)."""
    remaining = [item for item in items if position(item) > query.offset] if query.offset else items
    shown = remaining[:query.top]
    link = next_link(request, position(shown[-1])) if len(remaining) > query.top else None
    return shown, link


def page_of(items: Iterator[Any], request: Request, query: CollectionQuery,
            token: Callable[[Any], str]) -> tuple[list, str | None]:
    """One page read lazily from `items` (already past the cursor): `$top` items, and a next link whose
    `$skiptoken` is `token(last item shown)` when at least one more follows. Reads at most `$top` + 1 matches."""
    shown = list(islice(items, query.top + 1))
    if len(shown) <= query.top:
        return shown, None
    shown.pop()
    return shown, next_link(request, 0, token(shown[-1]))


def page(items: list, request: Request, query: CollectionQuery) -> tuple[list, str | None]:
    """One page of `items` and the next link (None on the last page)."""
    end = query.offset + query.top
    link = next_link(request, end) if end < len(items) else None
    return items[query.offset:end], link

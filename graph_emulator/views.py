"""How directory objects are shown: default property sets, $select projections and @odata.context values."""

from __future__ import annotations

from starlette.requests import Request

from .responses import context_url
from .schema import USER_PROPERTIES, empty_value


def project(props: dict, select: list[str] | None, default: tuple[str, ...]) -> dict:
    """The properties a read returns: those named in $select, else the type's default set. A property the object
    does not hold (bulk-seeded users hold only those they have a value for) reads as null, or empty for a
    collection."""
    return {name: props[name] if name in props else _empty(name)
            for name in (select if select is not None else default)}


def _empty(name: str) -> object:
    kind = USER_PROPERTIES.get(name)
    return None if kind is None else empty_value(kind)


def typed(props: dict, select: list[str] | None, default: tuple[str, ...], odata_type: str) -> dict:
    """A directoryObject item of a mixed collection: `@odata.type` first, then the projection."""
    return {"@odata.type": odata_type, **project(props, select, default)}


def entity_context(request: Request, entity_set: str, select: list[str] | None) -> str:
    """`@odata.context` of a single entity, e.g. `…/$metadata#users(displayName,mail)/$entity`."""
    selected = f"({','.join(select)})" if select else ""
    return context_url(request, f"{entity_set}{selected}/$entity")


def collection_context(request: Request, entity_set: str, select: list[str] | None) -> str:
    """`@odata.context` of a collection, e.g. `…/$metadata#users(displayName)`."""
    selected = f"({','.join(select)})" if select else ""
    return context_url(request, f"{entity_set}{selected}")


def collection_body(context: str, items: list[dict], next_link: str | None, count: int | None = None) -> dict:
    """`{"@odata.context", ["@odata.count",] "value", ["@odata.nextLink"]}`."""
    body: dict = {"@odata.context": context}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = items
    if next_link:
        body["@odata.nextLink"] = next_link
    return body

"""Graph `$batch` envelopes: the shapes Graph accepts.

Graph runs a batch only when its items are fully parallel (no `dependsOn`), fully sequential (each item depends on
the one before it) or all depend on the first; anything else, two guests' dependency chains side by side for
example, is refused whole with 400 "Batch should be either fully sequential or fully parallel." (json-batching.md,
the TIP under "Sequencing requests"; microsoft-graph-docs-contrib#2339; msgraph-sdk-javascript
`BatchRequestContent.validateDependencies`). `batch_shape` names the shape of a list of items or raises, and the
adapter checks every envelope with it before sending, so no code path can send a shape Graph refuses.

Envelopes were once shared between concurrent callers, which put two guests' `disable → revoke` chains side by side:
a shape Graph refuses. Each call now sends an envelope of its own: a sequential chain, or independent items."""
from __future__ import annotations

from typing import Any, Literal

MAX_ITEMS = 20  # json-batching.md: "JSON batch requests are currently limited to 20 individual requests"
REFUSED_SHAPE = "Batch should be either fully sequential or fully parallel."

Item = dict[str, Any]
"""A $batch request: `id`, `method`, `url`, and `headers`, `body`, `dependsOn` as Graph takes them."""
Answer = dict[str, Any]
"""A $batch response: `id`, `status`, `headers`, `body`."""
Shape = Literal["parallel", "sequential", "fan-out"]


class RefusedBatchShape(ValueError):
    """The items form a batch Graph refuses whole (a programming error: nothing was sent)."""


def batch_shape(items: list[Item]) -> Shape:
    """The shape of a batch of `items`: "parallel" (no item depends on another), "sequential" (each item after the
    first depends on the one before it, and only on it) or "fan-out" (every item after the first depends on the
    first only). Raises RefusedBatchShape for any other shape and for 0 or more than MAX_ITEMS items."""
    if not 0 < len(items) <= MAX_ITEMS:
        raise RefusedBatchShape(f"a batch holds 1 to {MAX_ITEMS} requests, not {len(items)}")
    depends = [list(item.get("dependsOn") or []) for item in items]
    if not any(depends):
        return "parallel"
    rest = depends[1:]
    if not depends[0]:
        if all(on == [items[n]["id"]] for n, on in enumerate(rest)):
            return "sequential"
        if all(on == [items[0]["id"]] for on in rest):
            return "fan-out"
    raise RefusedBatchShape(REFUSED_SHAPE)


def answers_by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A $batch answer's items by id (plain dicts: status, headers, body)."""
    return {str(answer.get("id")): answer for answer in body.get("responses") or [] if isinstance(answer, dict)}


def header_name(name: str) -> str:
    """`content-type` → `Content-Type`: the SDK keeps header names lower-cased, a batch item writes them out."""
    return "-".join(part.capitalize() for part in name.split("-"))

"""The $batch shapes Graph runs, and the ones it refuses whole.

Source: microsoft-graph-docs-contrib concepts/json-batching.md, the TIP under "Sequencing requests" ("Batch should be
either fully sequential or fully parallel."), issue microsoftgraph/microsoft-graph-docs-contrib#2339 (confirmed by
the docs owner), and msgraph-sdk-javascript `BatchRequestContent.validateDependencies` (which also accepts every
request depending on the first)."""
from __future__ import annotations

from typing import Any

import pytest

from lifecycle.adapters.graph.batching import MAX_ITEMS, REFUSED_SHAPE, RefusedBatchShape, batch_shape


def item(item_id: str, *depends_on: str) -> dict[str, Any]:
    made: dict[str, Any] = {"id": item_id, "method": "GET", "url": f"/users/{item_id}"}
    if depends_on:
        made["dependsOn"] = list(depends_on)
    return made


def test_items_without_dependencies_are_fully_parallel() -> None:
    assert batch_shape([item("1"), item("2"), item("3")]) == "parallel"


def test_a_single_item_is_parallel() -> None:
    assert batch_shape([item("1")]) == "parallel"


def test_each_item_depending_on_the_one_before_is_fully_sequential() -> None:
    assert batch_shape([item("1"), item("2", "1"), item("3", "2")]) == "sequential"


def test_every_item_depending_on_the_first_is_a_fan_out() -> None:
    assert batch_shape([item("1"), item("2", "1"), item("3", "1")]) == "fan-out"


@pytest.mark.parametrize("items", [
    [item("a1"), item("a2", "a1"), item("b1"), item("b2", "b1")],  # two guests' disable -> revoke side by side
    [item("1"), item("2", "1"), item("3")],  # a chain beside an independent item
    [item("1", "2"), item("2")],  # the first item depends on a later one
    [item("1"), item("2"), item("3", "1", "2")],  # an item depending on two
    [item("1"), item("2", "1"), item("3", "1"), item("4", "3")],  # a fan-out that goes on as a chain
], ids=["two chains", "chain beside a parallel item", "first depends", "two dependencies", "fan-out then chain"])
def test_every_other_shape_is_refused_with_graphs_message(items: list[dict[str, Any]]) -> None:
    with pytest.raises(RefusedBatchShape, match=REFUSED_SHAPE):
        batch_shape(items)


@pytest.mark.parametrize("count", [0, MAX_ITEMS + 1])
def test_an_empty_or_oversized_batch_is_refused(count: int) -> None:
    with pytest.raises(RefusedBatchShape):
        batch_shape([item(str(n)) for n in range(count)])

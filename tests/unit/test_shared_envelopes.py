"""SharedEnvelopes: concurrent callers' $batch requests travel together, each gets its own answers back."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lifecycle.adapters.graph_batching import Answer, Item, RefusedBatchShape, SharedEnvelopes, batch_shape


class RecordingGraph:
    """Answers every item 200 with its own id and url (or as `status_for` says); records each envelope sent."""

    def __init__(self, status_for: dict[str, int] | None = None, fail: Exception | None = None) -> None:
        self.envelopes: list[list[Item]] = []
        self.status_for = status_for or {}
        self.fail = fail

    async def send(self, items: list[Item]) -> dict[str, Answer]:
        self.envelopes.append(items)
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return {item["id"]: {"id": item["id"], "status": self.status_for.get(item["url"], 200),
                             "body": {"url": item["url"]}} for item in items}


def items(*urls: str, chained: bool = False) -> list[Item]:
    made: list[Item] = []
    for n, url in enumerate(urls):
        item: dict[str, Any] = {"id": f"s{n}", "method": "POST", "url": url}
        if chained and n:
            item["dependsOn"] = [f"s{n - 1}"]
        made.append(item)
    return made


async def test_callers_in_the_same_turn_share_one_envelope_and_get_their_own_answers() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    first, second = await asyncio.gather(shared.submit(items("/a/1", "/a/2")), shared.submit(items("/b/1")))
    assert len(graph.envelopes) == 1 and len(graph.envelopes[0]) == 3
    assert {k: v["body"]["url"] for k, v in first.items()} == {"s0": "/a/1", "s1": "/a/2"}
    assert {k: v["body"]["url"] for k, v in second.items()} == {"s0": "/b/1"}
    assert first["s0"]["id"] == "s0"


async def test_ids_are_unique_in_the_envelope_and_every_envelope_is_fully_parallel() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    await asyncio.gather(shared.submit(items("/a/1", "/a/2")), shared.submit(items("/b/1", "/b/2")))
    sent = graph.envelopes[0]
    assert len({item["id"] for item in sent}) == 4
    assert batch_shape(sent) == "parallel" and not any("dependsOn" in item for item in sent)


async def test_requests_that_depend_on_one_another_never_share_an_envelope() -> None:
    # Two guests' disable -> revoke chains side by side are a shape Graph refuses whole (json-batching.md, TIP
    # under "Sequencing requests": "Batch should be either fully sequential or fully parallel.").
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    with pytest.raises(RefusedBatchShape):
        await shared.submit(items("/a/1", "/a/2", chained=True))
    assert graph.envelopes == []


async def test_a_caller_is_never_split_and_no_envelope_holds_more_than_the_limit() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send, max_items=5)
    results = await asyncio.gather(*(shared.submit(items(f"/{n}/1", f"/{n}/2")) for n in range(6)))
    assert [len(envelope) for envelope in graph.envelopes] == [4, 4, 4]
    for envelope in graph.envelopes:
        owners = [item["url"].split("/")[1] for item in envelope]
        assert all(owners.count(owner) == 2 for owner in owners)
    assert all(len(result) == 2 for result in results)


async def test_a_lone_caller_is_sent_in_the_next_turn_without_waiting_for_others() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    answers = await asyncio.wait_for(shared.submit(items("/only")), timeout=1)
    assert answers["s0"]["status"] == 200 and len(graph.envelopes) == 1


async def test_callers_of_later_turns_get_envelopes_of_their_own() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    await shared.submit(items("/a"))
    await shared.submit(items("/b"))
    assert len(graph.envelopes) == 2


async def test_each_caller_sees_its_own_statuses() -> None:
    graph = RecordingGraph(status_for={"/b/1": 429})
    shared = SharedEnvelopes(graph.send)
    first, second = await asyncio.gather(shared.submit(items("/a/1")), shared.submit(items("/b/1")))
    assert first["s0"]["status"] == 200 and second["s0"]["status"] == 429


async def test_an_envelope_that_fails_fails_every_caller_in_it() -> None:
    graph = RecordingGraph(fail=ConnectionError("reset"))
    shared = SharedEnvelopes(graph.send)
    outcomes = await asyncio.gather(shared.submit(items("/a")), shared.submit(items("/b")), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    graph = RecordingGraph()
    shared = SharedEnvelopes(graph.send)
    leaving = asyncio.create_task(shared.submit(items("/gone")))
    staying = asyncio.create_task(shared.submit(items("/here")))
    await asyncio.sleep(0)
    leaving.cancel()
    answers = await staying
    assert answers["s0"]["body"]["url"] == "/here"
    assert leaving.cancelled()


async def test_an_item_the_envelope_did_not_answer_is_missing_from_its_callers_answers() -> None:
    async def forgetful(sent: list[Item]) -> dict[str, Answer]:
        return {sent[0]["id"]: {"id": sent[0]["id"], "status": 204}}

    shared = SharedEnvelopes(forgetful)
    answers = await shared.submit(items("/kept", "/forgotten"))
    assert set(answers) == {"s0"}


@pytest.mark.parametrize("count", [0, 21])
async def test_a_caller_that_cannot_fit_one_envelope_is_refused(count: int) -> None:
    shared = SharedEnvelopes(RecordingGraph().send)
    with pytest.raises(ValueError):
        await shared.submit(items(*(f"/{n}" for n in range(count))))


async def test_the_envelope_is_sent_outside_every_callers_context() -> None:
    import contextvars

    owner: contextvars.ContextVar[str] = contextvars.ContextVar("owner", default="nobody")
    seen: list[str] = []

    async def send(sent: list[Item]) -> dict[str, Answer]:
        seen.append(owner.get())
        return {item["id"]: {"id": item["id"], "status": 200} for item in sent}

    shared = SharedEnvelopes(send)

    async def as_caller(name: str) -> None:
        owner.set(name)
        await shared.submit(items(f"/{name}"))

    await asyncio.gather(as_caller("first"), as_caller("second"))
    assert seen == ["nobody"]

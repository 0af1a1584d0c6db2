"""Graph `$batch` envelopes: the shapes Graph accepts, and envelopes shared by concurrent callers.

Graph runs a batch only when its items are fully parallel (no `dependsOn`), fully sequential (each item depends on
the one before it) or all depend on the first; anything else, two guests' dependency chains side by side for
example, is refused whole with 400 "Batch should be either fully sequential or fully parallel." (json-batching.md,
the TIP under "Sequencing requests"; microsoft-graph-docs-contrib#2339; msgraph-sdk-javascript
`BatchRequestContent.validateDependencies`). `batch_shape` names the shape of a list of items or raises, and the
adapter checks every envelope with it before sending, so no code path can send a shape Graph refuses.

Callers that submit parallel requests during the same turn of the event loop have them sent together in one
`POST /$batch` (Graph takes at most 20 requests in one): independent items of several callers stay independent
together, a shape Graph accepts. A caller's requests are never split across envelopes; ids are made unique in the
envelope and given back as the caller wrote them. Requests that depend on one another never share: they travel in
an envelope of their own. What to do with an answer (success, a refusal, a 429 to retry) stays with the caller.
The envelope is sent in a context of its own, so what its sending records in context variables reaches no caller:
each caller reads what it needs (request ids, throttle headers) from its own answers."""
from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

MAX_ITEMS = 20  # json-batching.md: "JSON batch requests are currently limited to 20 individual requests"
REFUSED_SHAPE = "Batch should be either fully sequential or fully parallel."

Item = dict[str, Any]
"""A $batch request: `id`, `method`, `url`, and `headers`, `body`, `dependsOn` as Graph takes them."""
Answer = dict[str, Any]
"""A $batch response: `id`, `status`, `headers`, `body`."""
SendEnvelope = Callable[[list[Item]], Awaitable[dict[str, Answer]]]
"""Sends one envelope of items; returns their answers by item id."""
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


class _Envelope:
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.answers: asyncio.Future[dict[str, Answer]] = asyncio.get_running_loop().create_future()
        self.answers.add_done_callback(_retrieve)  # every caller may have gone: its error is not "never retrieved"
        self.sent = False


class SharedEnvelopes:
    """Puts the independent requests of concurrent callers into shared $batch envelopes, sent by `send`; every
    envelope is fully parallel."""

    def __init__(self, send: SendEnvelope, max_items: int = MAX_ITEMS) -> None:
        self._send = send
        self._max_items = max_items
        self._open: _Envelope | None = None
        self._tags = itertools.count()
        self._sending: set[asyncio.Task[None]] = set()

    async def submit(self, items: list[Item]) -> dict[str, Answer]:
        """Send `items` (ids unique among them, none depending on another) in the next envelope with whatever
        else is submitted in this turn of the event loop; return their answers by their own ids (an item Graph did
        not answer is missing). Raises RefusedBatchShape for items that depend on one another (they would make the
        shared envelope a shape Graph refuses: send them in an envelope of their own) or that cannot fit one
        envelope; else what sending the envelope raised, to every caller in it. A caller cancelled while it waits
        leaves its items in the envelope (they may have gone out already)."""
        if not 0 < len(items) <= self._max_items:
            raise RefusedBatchShape(
                f"a caller's requests must fit one envelope (1 to {self._max_items}), not {len(items)}")
        if batch_shape(items) != "parallel":
            raise RefusedBatchShape("requests that depend on one another never share an envelope")
        envelope = self._envelope_for(len(items))
        prefix = f"{next(self._tags)}."
        envelope.items += [_tagged(item, prefix) for item in items]
        answers = await asyncio.shield(envelope.answers)
        return {item["id"]: _untagged(answers[prefix + item["id"]], prefix) for item in items
                if prefix + item["id"] in answers}

    def _envelope_for(self, size: int) -> _Envelope:
        """The envelope still open in this turn, or a new one (the open one is sent now if the items do not fit)."""
        if self._open is not None and len(self._open.items) + size > self._max_items:
            self._dispatch(self._open)
        if self._open is None:
            self._open = _Envelope()
            asyncio.get_running_loop().call_soon(self._dispatch, self._open)
        return self._open

    def _dispatch(self, envelope: _Envelope) -> None:
        if envelope.sent:
            return
        envelope.sent = True
        if self._open is envelope:
            self._open = None
        # In a context of its own: what its send notes (request ids) belongs to no single caller.
        task = asyncio.get_running_loop().create_task(self._deliver(envelope), context=contextvars.Context())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, envelope: _Envelope) -> None:
        try:
            answers = await self._send(envelope.items)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the envelope
            envelope.answers.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        envelope.answers.set_result(answers)


def _tagged(item: Item, prefix: str) -> Item:
    return {**item, "id": prefix + item["id"]}


def _untagged(answer: Answer, prefix: str) -> Answer:
    return {**answer, "id": str(answer.get("id", "")).removeprefix(prefix)}


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()

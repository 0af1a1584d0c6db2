"""Reads across the partitions of the guests table: queries sent to every partition at the same time and merged,
pages that run partition by partition behind one continuation token, and a scan that hands pages on as they arrive.
Storage SDK exceptions are raised untranslated (the callers translate them with `storage_errors`)."""
from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from azure.data.tables.aio import TableClient

from lifecycle.adapters.tables import codec, paging
from lifecycle.errors import InvalidRequest

PAGE_LIMIT = 1000  # entities Table Storage returns in one page at most
SCAN_READERS = 4
"""Partitions a scan reads at the same time: it holds at most SCAN_READERS + SCAN_QUEUE + 1 pages."""
SCAN_QUEUE = 2


async def _first_in(client: TableClient, text: str, params: dict[str, Any], limit: int,
                    select: Sequence[str] | None = None) -> list[Any]:
    """The first `limit` rows (RowKey order) the query finds (storage may split them over several pages)."""
    rows: list[Any] = []
    async for row in client.query_entities(text, parameters=params, select=list(select) if select else None,
                                           results_per_page=min(limit, PAGE_LIMIT)):
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


async def first_rows(client: TableClient, text: str, params: dict[str, Any], limit: int, *,
                     select: Sequence[str] | None = None) -> list[Any]:
    """The first `limit` rows, by RowKey, that `text` (naming its partition `@pk`) finds in any partition: every
    partition is asked for its first `limit` at the same time, and their answers merged."""
    if limit <= 0:
        return []
    answers = await asyncio.gather(*(_first_in(client, text, {**params, "pk": partition}, limit, select)
                                     for partition in codec.PARTITIONS))
    return list(itertools.islice(heapq.merge(*answers, key=lambda row: str(row["RowKey"])), limit))


async def count(client: TableClient, text: str, params: dict[str, Any]) -> int:
    """How many rows `text` (naming its partition `@pk`) finds in all partitions, counted at the same time."""
    async def one(partition: str) -> int:
        found = 0
        async for _ in client.query_entities(text, parameters={**params, "pk": partition}, select=["RowKey"],
                                             results_per_page=PAGE_LIMIT):
            found += 1
        return found

    return sum(await asyncio.gather(*(one(partition) for partition in codec.PARTITIONS)))


async def partition_page(client: TableClient, text: str, params: dict[str, Any], size: int, token: str | None, *,
                         start: str) -> tuple[list[Any], str | None]:
    """A page of at most `size` rows that `text` finds, partition after partition, each in RowKey order, and the
    token of the next page (None: this is the last). `text` names the partition `@pk` and its lower bound `@after`
    (rows whose RowKey is greater; `start` in a partition begun afresh). The token names the partition and the
    RowKey of the page's last row: a row written or removed meanwhile never shifts the pages."""
    state = paging.decode(token)
    index, after = 0, start
    if state is not None:
        reached, last = state.get("partition"), state.get("after")
        if not isinstance(reached, int) or isinstance(reached, bool) or not 0 <= reached < len(codec.PARTITIONS) \
                or not isinstance(last, str):
            raise InvalidRequest("continuationToken is not valid")
        index, after = reached, last
    rows: list[Any] = []
    while index < len(codec.PARTITIONS) and len(rows) <= size:  # one row more than the page tells whether more follow
        rows += await _first_in(client, text, {**params, "pk": codec.PARTITIONS[index], "after": after},
                                size + 1 - len(rows))
        index, after = index + 1, start
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], paging.encode({"partition": codec.PARTITIONS.index(last["PartitionKey"]),
                                       "after": last["RowKey"]})


def after_key(token: str | None) -> str | None:
    """The RowKey a merged page's token goes on after (None: from the start)."""
    state = paging.decode(token)
    if state is None:
        return None
    after = state.get("after")
    if not isinstance(after, str) or not after:
        raise InvalidRequest("continuationToken is not valid")
    return after


def after_token(rows: Sequence[Any], size: int) -> str | None:
    """The token of the page after `rows` (which were asked `size + 1` to tell whether more follow)."""
    return paging.encode({"after": str(rows[size - 1]["RowKey"])}) if len(rows) > size else None


async def scan_pages(client: TableClient, text: str, params: dict[str, Any], page_size: int,
                     on_rows: Callable[[list[Any]], Awaitable[None]]) -> None:
    """Every row `text` (naming its partition `@pk`) finds, handed to `on_rows` a page at a time as pages arrive:
    SCAN_READERS partitions are read at the same time, each paged, and at most SCAN_QUEUE pages wait for `on_rows`
    (never called twice at once). The first error of a reader (or of `on_rows`) stops the scan and is raised."""
    waiting: asyncio.Queue[list[Any] | BaseException | None] = asyncio.Queue(maxsize=SCAN_QUEUE)
    partitions = list(codec.PARTITIONS)

    async def reader() -> None:
        try:
            while partitions:
                partition = partitions.pop(0)
                async for rows in _pages(client, text, {**params, "pk": partition}, page_size):
                    await waiting.put(rows)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await waiting.put(exc)
            return
        await waiting.put(None)

    readers = [asyncio.create_task(reader()) for _ in range(min(SCAN_READERS, len(partitions)))]
    try:
        finished = 0
        while finished < len(readers):
            item = await waiting.get()
            if item is None:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                await on_rows(item)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def _pages(client: TableClient, text: str, params: dict[str, Any], size: int) -> AsyncIterator[list[Any]]:
    pages = client.query_entities(text, parameters=params, results_per_page=min(size, PAGE_LIMIT)).by_page()
    async for page in pages:
        rows = [row async for row in page]
        if rows:
            yield rows

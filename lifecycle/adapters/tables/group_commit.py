"""Group commit: writes to one partition that arrive while a transaction of that partition is in flight share the
next one.

Table Storage charges this process per transaction more than per operation (the SDK builds and parses each one as
multipart MIME), so concurrent writes of different guests of one partition share an entity-group transaction: all of
it is applied, or none. A transaction holds rows of one partition only: writes of different partitions never share
one, and each partition has its own transactions in flight, so writes to different partitions run in parallel.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lifecycle.adapters.tables import codec
from lifecycle.ports import TRANSACTION_LIMIT

Operation = tuple[Any, ...]  # (kind, entity) or (kind, entity, options): what TableClient.submit_transaction takes
Results = list[Mapping[str, Any]]
Transact = Callable[[list[Operation]], Awaitable[Sequence[Mapping[str, Any]]]]
SendOne = Callable[[Operation], Awaitable[Mapping[str, Any]]]

MAX_REQUEST_BYTES = 2 * 1024 * 1024  # half the service's 4 MiB, against an upper bound of each operation's size


@dataclass(eq=False)
class _Write:
    """One caller's operations and the future its results (or its error) are handed over on."""

    operations: list[Operation]
    partition: str
    rows: frozenset[str]
    size: int
    outcome: asyncio.Future[Results]


class GroupCommit:
    """Sends transactions through `transact`, combining the writes that wait while others are in flight.

    Guarantees:
    - a write's operations are all of one partition (ValueError otherwise, before anything is sent), and a
      transaction holds writes of one partition only;
    - while fewer than `max_in_flight` transactions of its partition are under way, a write is sent at once, alone
      (no timer), whatever is in flight for other partitions;
    - the writes of a partition that arrived meanwhile leave together, in arrival order, in its next transaction: at
      most
      `max_operations` operations and `max_bytes` (by `codec.operation_bytes`), never two operations on one
      RowKey. A write that does not fit waits for the next transaction, and so does every later write on one of
      its rows (writes of one row leave in the order they came). A write's own operations are never split, and a
      write alone is sent whatever its size (the service then judges it, as it would without this class);
    - each caller gets the results of its own operations, in order, or the error `transact` raised for them
      alone: a combined transaction that raises (nothing of it applied) is sent again member by member;
    - a write of one operation that goes alone is sent with `send_one`, when given, as a request of its own: as
      atomic as a transaction of one, and less than half its cost to the storage SDK (`bench.table_write_cost`).
      Its errors are the SDK's for that request (the caller translates both kinds).
    """

    def __init__(self, transact: Transact, *, send_one: SendOne | None = None, max_in_flight: int = 1,
                 max_operations: int = TRANSACTION_LIMIT, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        if max_in_flight < 1 or max_operations < 1:
            raise ValueError("group commit needs at least one transaction in flight and one operation in it")
        self._transact = transact
        self._send_one = send_one
        self._max_in_flight = max_in_flight
        self._max_operations = max_operations
        self._max_bytes = max_bytes
        self._waiting: list[_Write] = []
        self._running: dict[str, set[asyncio.Task[None]]] = {}  # partition -> its transactions under way

    async def submit(self, operations: Sequence[Operation]) -> Results:
        """The results of `operations` (one per operation, in order) once they are committed, alone or with other
        writes. Raises what `transact` raises for these operations alone. A caller cancelled while its write waits
        takes it out of the queue; once the write is under way it commits or not, unobserved, as a cancelled lone
        transaction would."""
        partitions = {operation[1]["PartitionKey"] for operation in operations}
        if len(partitions) != 1:
            raise ValueError(f"a write's operations must be of one partition, not {len(partitions)}")
        write = _Write(list(operations), partitions.pop(),
                       frozenset(operation[1]["RowKey"] for operation in operations),
                       sum(codec.operation_bytes(operation[1]) for operation in operations),
                       asyncio.get_running_loop().create_future())
        self._waiting.append(write)
        self._dispatch(write.partition)
        return await write.outcome

    def _dispatch(self, partition: str) -> None:
        """Start transactions of the partition's waiting writes while it has a slot free."""
        running = self._running.setdefault(partition, set())
        while len(running) < self._max_in_flight:
            batch = self._next_batch(partition)
            if not batch:
                break
            task = asyncio.get_running_loop().create_task(self._run(batch))
            running.add(task)
            task.add_done_callback(functools.partial(self._finished, partition))
        if not running:
            del self._running[partition]

    def _finished(self, partition: str, task: asyncio.Task[None]) -> None:
        self._running.get(partition, set()).discard(task)
        self._dispatch(partition)

    def _next_batch(self, partition: str) -> list[_Write]:
        """The partition's waiting writes (cancelled ones dropped) that fit its next transaction, in arrival order."""
        batch: list[_Write] = []
        rows: set[str] = set()
        blocked: set[str] = set()
        operations = size = 0
        still_waiting = []
        for write in self._waiting:
            if write.outcome.done():
                continue
            if write.partition != partition:
                still_waiting.append(write)
                continue
            fits = not batch or (operations + len(write.operations) <= self._max_operations
                                 and size + write.size <= self._max_bytes)
            if fits and rows.isdisjoint(write.rows) and blocked.isdisjoint(write.rows):
                batch.append(write)
                rows |= write.rows
                operations, size = operations + len(write.operations), size + write.size
            else:
                blocked |= write.rows
                still_waiting.append(write)
        self._waiting = still_waiting
        return batch

    async def _run(self, batch: list[_Write]) -> None:
        """One transaction of the batch; if it is combined and fails, one per member. Callers whose outcome is
        still open when this ends (the task was cancelled) are cancelled."""
        try:
            if len(batch) == 1:
                await self._alone(batch[0])
            elif not await self._combined(batch):
                await asyncio.gather(*(self._alone(write) for write in batch))
        finally:
            for write in batch:
                if not write.outcome.done():
                    write.outcome.cancel()

    async def _combined(self, batch: list[_Write]) -> bool:
        """True when the batch committed as one transaction (its results handed out), False when it raised."""
        try:
            results = list(await self._transact([operation for write in batch for operation in write.operations]))
        except Exception:
            return False
        start = 0
        for write in batch:
            _settle(write, results[start:start + len(write.operations)])
            start += len(write.operations)
        return True

    async def _alone(self, write: _Write) -> None:
        try:
            if self._send_one is not None and len(write.operations) == 1:
                results = [await self._send_one(write.operations[0])]
            else:
                results = list(await self._transact(write.operations))
        except Exception as exc:
            if not write.outcome.done():
                write.outcome.set_exception(exc)
            return
        _settle(write, results)


def _settle(write: _Write, results: Results) -> None:
    if not write.outcome.done():
        write.outcome.set_result(results)

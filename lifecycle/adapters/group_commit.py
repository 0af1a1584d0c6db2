"""Group commit: writes to one partition that arrive while a transaction is in flight share the next one.

Table Storage charges this process per transaction more than per operation (the SDK builds and parses each one as
multipart MIME), and every guest row lives in one partition, so concurrent writes of different guests can share an
entity-group transaction: all of it is applied, or none.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lifecycle.adapters import table_codec as codec

Operation = tuple[Any, ...]  # (kind, entity) or (kind, entity, options): what TableClient.submit_transaction takes
Results = list[Mapping[str, Any]]
Transact = Callable[[list[Operation]], Awaitable[Sequence[Mapping[str, Any]]]]

MAX_REQUEST_BYTES = 2 * 1024 * 1024  # half the service's 4 MiB, against an upper bound of each operation's size


@dataclass(eq=False)
class _Write:
    """One caller's operations and the future its results (or its error) are handed over on."""

    operations: list[Operation]
    rows: frozenset[str]
    size: int
    outcome: asyncio.Future[Results]


class GroupCommit:
    """Sends transactions through `transact`, combining the writes that wait while others are in flight.

    Guarantees:
    - while fewer than `max_in_flight` transactions are under way, a write is sent at once, alone (no timer);
    - the writes that arrived meanwhile leave together, in arrival order, in the next transaction: at most
      `max_operations` operations and `max_bytes` (by `codec.operation_bytes`), never two operations on one
      RowKey. A write that does not fit waits for the next transaction, and so does every later write on one of
      its rows (writes of one row leave in the order they came). A write's own operations are never split, and a
      write alone is sent whatever its size (the service then judges it, as it would without this class);
    - each caller gets the results of its own operations, in order, or the error `transact` raised for them
      alone: a combined transaction that raises (nothing of it applied) is sent again member by member.
    """

    def __init__(self, transact: Transact, *, max_in_flight: int = 1, max_operations: int = codec.TRANSACTION_LIMIT,
                 max_bytes: int = MAX_REQUEST_BYTES) -> None:
        if max_in_flight < 1 or max_operations < 1:
            raise ValueError("group commit needs at least one transaction in flight and one operation in it")
        self._transact = transact
        self._max_in_flight = max_in_flight
        self._max_operations = max_operations
        self._max_bytes = max_bytes
        self._waiting: list[_Write] = []
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, operations: Sequence[Operation]) -> Results:
        """The results of `operations` (one per operation, in order) once they are committed, alone or with other
        writes. Raises what `transact` raises for these operations alone. A caller cancelled while its write waits
        takes it out of the queue; once the write is under way it commits or not, unobserved, as a cancelled lone
        transaction would."""
        write = _Write(list(operations), frozenset(operation[1]["RowKey"] for operation in operations),
                       sum(codec.operation_bytes(operation[1]) for operation in operations),
                       asyncio.get_running_loop().create_future())
        self._waiting.append(write)
        self._dispatch()
        return await write.outcome

    def _dispatch(self) -> None:
        """Start transactions of the waiting writes while a slot is free."""
        while len(self._running) < self._max_in_flight:
            batch = self._next_batch()
            if not batch:
                return
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._dispatch()

    def _next_batch(self) -> list[_Write]:
        """The waiting writes (cancelled ones dropped) that fit the next transaction, in arrival order."""
        batch: list[_Write] = []
        rows: set[str] = set()
        blocked: set[str] = set()
        operations = size = 0
        still_waiting = []
        for write in self._waiting:
            if write.outcome.done():
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
            results = list(await self._transact(write.operations))
        except Exception as exc:
            if not write.outcome.done():
                write.outcome.set_exception(exc)
            return
        _settle(write, results)


def _settle(write: _Write, results: Results) -> None:
    if not write.outcome.done():
        write.outcome.set_result(results)

"""GroupCommit on a fake transaction function: what is combined, what is kept apart, and who gets which outcome."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.group_commit import GroupCommit


class Refused(Exception):
    """The fake storage's refusal of a transaction, naming the row it refused."""


def op(row: str, partition: str = "guests-0", **values: Any) -> tuple[Any, ...]:
    return ("upsert", {"PartitionKey": partition, "RowKey": row, **values})


def write(*rows: str) -> list[tuple[Any, ...]]:
    return [op(row) for row in rows]


class FakeStorage:
    """Records each transaction's rows; holds transactions at its gate once `hold` was called; refuses, all or
    nothing, any transaction holding a row in `refused`; answers each operation with an ETag naming its row and
    transaction."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.refused: set[str] = set()

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        """The transactions held so far go on; the next ones are held."""
        held, self.gate = self.gate, asyncio.Event()
        held.set()

    def open(self) -> None:
        self.gate.set()

    async def transact(self, operations: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        rows = [operation[1]["RowKey"] for operation in operations]
        self.calls.append(rows)
        number = len(self.calls)
        await self.gate.wait()
        refused = [row for row in rows if row in self.refused]
        if refused:
            raise Refused(refused[0])
        return [{"etag": f"{row}@{number}"} for row in rows]


async def settle() -> None:
    """Let every task that can run, run (no timer is involved anywhere)."""
    for _ in range(20):
        await asyncio.sleep(0)


def etags(results: list[Any]) -> list[str]:
    return [result["etag"] for result in results]


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


async def hold_first(storage: FakeStorage, commit: GroupCommit, *rows: str) -> asyncio.Task[Any]:
    """A first write in flight (its transaction held at the gate), so the next ones wait."""
    storage.hold()
    first = asyncio.create_task(commit.submit(write(*rows)))
    await settle()
    assert storage.calls == [list(rows)]
    return first


def start(commit: GroupCommit, *writes: list[tuple[Any, ...]]) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(commit.submit(operations)) for operations in writes]


async def two_waiting_behind_a(storage: FakeStorage, commit: GroupCommit
                               ) -> tuple[asyncio.Task[Any], list[asyncio.Task[Any]]]:
    """Row a's write in flight and held; the writes of rows b and c waiting behind it."""
    first = await hold_first(storage, commit, "a")
    waiting = start(commit, write("b"), write("c"))
    await settle()
    return first, waiting


async def test_a_lone_write_is_sent_at_once_alone(storage):
    commit = GroupCommit(storage.transact)
    storage.hold()
    task = asyncio.create_task(commit.submit(write("a", "b")))
    await settle()
    assert storage.calls == [["a", "b"]]
    storage.open()
    assert etags(await task) == ["a@1", "b@1"]


async def test_writes_arriving_while_one_is_in_flight_share_the_next_transaction_in_arrival_order(storage):
    commit = GroupCommit(storage.transact)
    first = await hold_first(storage, commit, "a")
    later = start(commit, write("b1", "b2"), write("c"), write("d"))
    await settle()
    assert storage.calls == [["a"]]
    storage.open()
    results = await asyncio.gather(first, *later)
    assert storage.calls == [["a"], ["b1", "b2", "c", "d"]]
    assert [etags(r) for r in results] == [["a@1"], ["b1@2", "b2@2"], ["c@2"], ["d@2"]]


async def test_a_combined_transaction_stays_within_the_operation_limit_and_never_splits_a_write(storage):
    commit = GroupCommit(storage.transact, max_operations=5)
    first = await hold_first(storage, commit, "a")
    later = start(commit, write("b1", "b2"), write("c1", "c2"), write("d1", "d2"), write("e1", "e2", "e3", "e4",
                                                                                           "e5", "e6"))
    storage.open()
    results = await asyncio.gather(first, *later)
    assert storage.calls == [["a"], ["b1", "b2", "c1", "c2"], ["d1", "d2"], ["e1", "e2", "e3", "e4", "e5", "e6"]]
    assert etags(results[4]) == [f"e{n}@4" for n in range(1, 7)]  # alone beyond the limit, whole


async def test_a_combined_transaction_stays_within_the_size_budget(storage):
    big = "x" * 10_000
    budget = 2 * codec.operation_bytes(op("b", Data=big)[1]) + 100
    commit = GroupCommit(storage.transact, max_bytes=budget)
    first = await hold_first(storage, commit, "a")
    later = start(commit, *([op(row, Data=big)] for row in ("b", "c", "d")))
    storage.open()
    await asyncio.gather(first, *later)
    assert storage.calls == [["a"], ["b", "c"], ["d"]]


async def test_two_writes_of_one_row_go_in_different_transactions_in_arrival_order(storage):
    commit = GroupCommit(storage.transact)
    first = await hold_first(storage, commit, "a")
    later = start(commit, write("x"), write("x", "y"), write("y"), write("z"))
    storage.open()
    await asyncio.gather(first, *later)
    # the second write of x waits for the first; the write of y waits behind the write that also holds y
    assert storage.calls == [["a"], ["x", "z"], ["x", "y"], ["y"]]


async def test_a_failed_combined_transaction_is_sent_again_member_by_member_each_with_its_own_outcome(storage):
    commit = GroupCommit(storage.transact)
    first = await hold_first(storage, commit, "a")
    storage.refused = {"c2"}
    later = start(commit, write("b"), write("c1", "c2"), write("d"))
    storage.open()
    results = await asyncio.gather(first, *later, return_exceptions=True)
    assert storage.calls[:2] == [["a"], ["b", "c1", "c2", "d"]]
    assert sorted(storage.calls[2:]) == [["b"], ["c1", "c2"], ["d"]]
    assert etags(results[0]) == ["a@1"] and etags(results[1])[0].startswith("b@")
    assert isinstance(results[2], Refused) and str(results[2]) == "c2"
    assert etags(results[3])[0].startswith("d@")


async def test_a_lone_write_that_fails_gets_its_error_and_is_not_sent_again(storage):
    commit = GroupCommit(storage.transact)
    storage.refused = {"a"}
    with pytest.raises(Refused):
        await commit.submit(write("a"))
    assert storage.calls == [["a"]]


async def test_a_cancelled_waiting_write_is_never_sent_and_the_others_still_commit(storage):
    first, (cancelled, kept) = await two_waiting_behind_a(storage, GroupCommit(storage.transact))
    cancelled.cancel()
    storage.open()
    assert etags(await kept) == ["c@2"] and etags(await first) == ["a@1"]
    assert storage.calls == [["a"], ["c"]]
    assert cancelled.cancelled()


async def test_a_caller_cancelled_while_its_transaction_is_in_flight_leaves_the_others_their_results(storage):
    commit = GroupCommit(storage.transact)
    first, (gone, kept) = await two_waiting_behind_a(storage, commit)
    storage.release()
    await settle()
    assert storage.calls == [["a"], ["b", "c"]]  # the combined transaction is in flight, held
    gone.cancel()
    storage.open()
    assert etags(await kept) == ["c@2"] and etags(await first) == ["a@1"]
    assert gone.cancelled()
    assert etags(await commit.submit(write("d"))) == ["d@3"]  # nothing left stuck


async def test_with_two_in_flight_a_second_write_is_sent_at_once_and_a_third_waits(storage):
    commit = GroupCommit(storage.transact, max_in_flight=2)
    first = await hold_first(storage, commit, "a")
    second, third, fourth = start(commit, write("b"), write("c"), write("d"))
    await settle()
    assert storage.calls == [["a"], ["b"]]
    storage.open()
    await asyncio.gather(first, second, third, fourth)
    assert storage.calls == [["a"], ["b"], ["c", "d"]]


async def test_writes_keep_flowing_after_a_failure(storage):
    commit = GroupCommit(storage.transact)
    storage.refused = {"bad"}
    outcomes = await asyncio.gather(*(commit.submit(write(row)) for row in ("a", "bad", "c", "d")),
                                    return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [list, Refused, list, list]
    storage.refused = set()
    assert etags(await commit.submit(write("bad"))) == [f"bad@{len(storage.calls)}"]


async def test_writes_of_different_partitions_never_share_a_transaction_and_each_partition_has_its_own_slot():
    storage = FakeStorage()
    storage.hold()
    commit = GroupCommit(storage.transact)
    first = [asyncio.create_task(commit.submit([op(row, partition)])) for row, partition in
             (("a", "guests-0"), ("b", "guests-1"))]
    await settle()
    assert storage.calls == [["a"], ["b"]]  # both partitions' first writes under way at once
    later = [asyncio.create_task(commit.submit([op(row, partition)])) for row, partition in
             (("c", "guests-0"), ("d", "guests-1"), ("e", "guests-0"))]
    await settle()
    storage.open()
    await asyncio.gather(*first, *later)
    assert sorted(storage.calls[2:]) == [["c", "e"], ["d"]]


async def test_a_write_over_two_partitions_is_refused_before_anything_is_sent():
    storage = FakeStorage()
    with pytest.raises(ValueError, match="one partition"):
        await GroupCommit(storage.transact).submit([op("a", "guests-0"), op("b", "guests-1")])
    assert storage.calls == []


class SendsOne(FakeStorage):
    """FakeStorage that also answers single requests (`send_one`), recorded apart from transactions."""

    def __init__(self) -> None:
        super().__init__()
        self.singles: list[str] = []

    async def send_one(self, operation: tuple[Any, ...]) -> dict[str, Any]:
        row = operation[1]["RowKey"]
        self.singles.append(row)
        if row in self.refused:
            raise Refused(row)
        return {"etag": f"{row}@single"}


async def test_a_lone_write_of_one_operation_is_sent_as_a_request_of_its_own():
    storage = SendsOne()
    commit = GroupCommit(storage.transact, send_one=storage.send_one)
    assert etags(await commit.submit(write("a"))) == ["a@single"]
    assert etags(await commit.submit(write("b", "c"))) == ["b@1", "c@1"]  # two operations: a transaction
    assert storage.singles == ["a"] and storage.calls == [["b", "c"]]


async def test_writes_of_one_operation_waiting_together_share_a_transaction_and_fall_back_to_single_requests():
    storage = SendsOne()
    commit = GroupCommit(storage.transact, send_one=storage.send_one)
    first = await hold_first(storage, commit, "a", "a2")
    waiting = start(commit, write("b"), write("c"))
    await settle()
    storage.refused = {"c"}
    storage.open()
    assert etags(await first) == ["a@1", "a2@1"]
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert storage.calls == [["a", "a2"], ["b", "c"]]  # b and c shared a transaction, refused as a whole ...
    assert storage.singles == ["b", "c"]  # ... then each was sent alone, as a request of its own
    assert etags(outcomes[0]) == ["b@single"] and isinstance(outcomes[1], Refused)

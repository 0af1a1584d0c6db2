"""Expiry-sweep scaling: does the sweep's cost follow what is due, or what is stored?

Two configurations, each on fresh tables, one sweep each, no throttle:
  A  100 guests due among 100 tracked
  B  100 guests due among 10,000 tracked (9,900 expire in 180 days; every one has its user in Graph, since the
     sweep's directory pass reads them all)
The ratio of sweep times B / A should stay ≤ 1.3. With more than EXPIRY_GUARD_MIN guests due the sweep counts the
tracked guests for the mass-deletion guard (`count_tracked()`, a scan of the guest records): that count is in both
sweep times, and is also timed on its own at both sizes.

    python -m bench.sweep_scaling [--due 100] [--tracked 10000] [--rounds 1]
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.common import (
    BenchError,
    Stack,
    graph_calls,
    make_guest,
    row,
    run_benchmark,
    seed_records,
    seed_records_bulk,
    seed_users,
    timed_sweep,
    warm_up,
)
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings

TARGET_RATIO = 1.3
COUNT_REPEATS = 5


@dataclass
class Outcome:
    label: str
    due: int
    tracked: int
    seed_seconds: float
    sweep_seconds: float
    graph_requests: int
    reported_tracked: int | None
    disabled: int
    failures: int
    count_seconds: list[float]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--due", type=int, default=100, help="due guests in both configurations (default 100)")
    parser.add_argument("--tracked", type=int, default=10_000, help="tracked guests in the large one (default 10000)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="sweeps per configuration, fresh tables each (default 1)")
    parser.add_argument("--time-limit", type=float, default=170, help="stop the whole run after this (default 170 s)")
    args = parser.parse_args()
    if args.due < 1 or args.tracked < args.due or args.rounds < 1 or not 1 <= args.concurrency <= 64:
        parser.error("need --due ≥ 1, --tracked ≥ --due, --rounds ≥ 1, 1 ≤ --concurrency ≤ 64")
    return args


async def time_count(settings: Settings) -> list[float]:
    tables = LifecycleTables(build_service_client(settings, None), settings)
    store = TableGuestStore(tables)
    seconds = []
    try:
        await store.ping()  # table client created outside the timing
        for _ in range(COUNT_REPEATS):
            started = time.perf_counter()
            await store.count_tracked()
            seconds.append(time.perf_counter() - started)
    finally:
        await tables.close()
    return seconds


async def configuration(stack: Stack, label: str, due: int, tracked: int, concurrency: int) -> Outcome:
    settings = Settings.from_env(stack.environment(label, EXPIRY_GUARD_PERCENT=100, GRAPH_MAX_CONCURRENCY=concurrency))
    now = datetime.now(UTC)
    due_guests = [make_guest(now, due=True, number=n) for n in range(due)]
    others = [make_guest(now, due=False, number=due + n) for n in range(tracked - due)]
    started = time.perf_counter()
    await seed_records(settings, due_guests)
    if others:
        await seed_records_bulk(settings, others)
    seed_seconds = time.perf_counter() - started
    control = stack.control
    control.reset()
    seed_users(control, due_guests + others)

    report, seconds = await timed_sweep(settings)
    calls = graph_calls(control)
    if report.guard_tripped:
        raise BenchError(f"the mass-deletion guard tripped, the benchmark is misconfigured: {report.guard_message}")
    return Outcome(label, due, tracked, seed_seconds, seconds, calls.total, report.tracked,
                   report.done.get("disable", 0), len(report.failures), await time_count(settings))


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    await warm_up(stack)
    small: list[Outcome] = []
    large: list[Outcome] = []
    for _ in range(args.rounds):
        small.append(await configuration(stack, "Small", args.due, args.due, args.concurrency))
        large.append(await configuration(stack, "Large", args.due, args.tracked, args.concurrency))

    print("expiry sweep scaling: sweep time with the same guests due among few or many tracked (no throttle)")
    print(f"  {'configuration':<28} {'seed s':>7} {'sweep s':>8} {'Graph req':>10} {'tracked':>8} "
          f"{'disabled':>9} {'failures':>9}")
    for outcome in small + large:
        name = f"{outcome.due} due of {outcome.tracked:,} tracked"
        print(f"  {name:<28} {outcome.seed_seconds:>7.2f} {outcome.sweep_seconds:>8.2f} {outcome.graph_requests:>10} "
              f"{outcome.reported_tracked!s:>8} {outcome.disabled:>9} {outcome.failures:>9}")
    small_time = statistics.median(o.sweep_seconds for o in small)
    large_time = statistics.median(o.sweep_seconds for o in large)
    ratio = large_time / small_time
    median = " (median)" if args.rounds > 1 else ""
    print(row(f"sweep, {args.due} of {args.due:,}{median}", f"{small_time:.2f}", "s"))
    print(row(f"sweep, {args.due} of {args.tracked:,}{median}", f"{large_time:.2f}", "s"))
    print(row("ratio", f"{ratio:.2f}", f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"))
    for outcome in (small[-1], large[-1]):
        times = outcome.count_seconds
        print(row(f"count_tracked() at {outcome.tracked:,} ({COUNT_REPEATS} runs)",
                  f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f}", "ms"))
    share = statistics.median(large[-1].count_seconds) / large_time
    print(row(f"count_tracked() share of the {args.tracked:,} sweep", f"{share:.0%}"))
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

"""How the expiry sweep grows with the guests it tracks: time per phase and peak memory, beside the lower bounds
Table Storage's partition targets and Graph's throttle imply.

N guests are tracked (`--tracked`) and exist in Graph as redeemed, enabled guests; `--due` of them (default 1,000)
expired a day ago. Records are seeded in bulk into Azurite, users into the emulator, whose per-request latency is
set (`--latency-ms`, default 100). Then one sweep runs in a process of its own
(`bench.sweep_process`), so that its peak resident memory is its own. Printed: the sweep's phases (directory pass,
records, plan, act), its peak memory and bytes per tracked guest, and each phase's lower bound:
  records    rows / (2,000 entities/s per partition × partitions), and at least rows / 20,000 (an account's target)
  directory  pages / ranges × latency, and pages × resource units / Graph's 3,500 units per 10 s
  act        due guests × 2 writes / Graph's 3,000 writes per 150 s (beyond the first 3,000)

    python -m bench.scale [--tracked 10000] [--due 1000] [--latency-ms 300] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.common import DAY, ROOT, BenchError, Stack, row, run_benchmark, seed_records_bulk, seed_users
from bench.synthetic_store import generated_guest
from lifecycle.adapters.tables import codec
from lifecycle.config import Settings

PARTITION_ENTITIES_PER_SECOND = 2_000  # Azure Storage scalability targets: one partition
ACCOUNT_ENTITIES_PER_SECOND = 20_000  # and one storage account
GRAPH_UNITS_PER_10_SECONDS = 3_500  # throttling-limits.md, identity and access, per app and tenant (smallest tier)
GRAPH_WRITES_PER_150_SECONDS = 3_000
SIGN_IN_PAGE = 500
LIST_PAGE_UNITS = 2  # a users list page with $select (throttling-limits.md) ...
SIGN_IN_PAGE_UNITS = LIST_PAGE_UNITS + 1  # ... and signInActivity on top (the emulator's cost table)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--tracked", type=int, default=10_000, help="tracked guests (default 10000)")
    parser.add_argument("--due", type=int, default=1_000, help="of them, expired a day ago (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=100, help="Graph's latency per request (default 100)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--inactivity-days", type=int, default=90, help="INACTIVITY_DAYS (default 90)")
    parser.add_argument("--records", choices=("azurite", "synthetic"), default="azurite",
                        help="where the records are: Azurite, or made on demand in the sweep's process (a million "
                             "guests: Azurite cannot serve them; see bench.synthetic_store)")
    parser.add_argument("--time-limit", type=float, default=3600, help="stop the whole run after this (default 3600 s)")
    args = parser.parse_args()
    if args.tracked < 1 or not 0 <= args.due <= args.tracked or args.latency_ms < 0:
        parser.error("need --tracked ≥ 1, 0 ≤ --due ≤ --tracked, --latency-ms ≥ 0")
    return args


async def seed(stack: Stack, settings: Settings, args: argparse.Namespace, now: datetime) -> float:
    started = time.perf_counter()
    chunk = 50_000
    for start in range(0, args.tracked, chunk):  # a chunk at a time: the seeding process stays small too
        guests = [generated_guest(now, n, args.due) for n in range(start, min(start + chunk, args.tracked))]
        if args.records == "azurite":
            await seed_records_bulk(settings, guests, concurrency=8)
        seed_users(stack.control, guests, per_call=5_000, signed_in=now - 3 * DAY)
    return time.perf_counter() - started


def sweep_in_own_process(environment: dict[str, str], timeout: float) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "bench.sweep_process"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **environment}, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"the sweep process failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bounds(args: argparse.Namespace, rows: int, partitions: int, ranges: int, pages: int) -> dict[str, float]:
    records = max(rows / (PARTITION_ENTITIES_PER_SECOND * partitions), rows / ACCOUNT_ENTITIES_PER_SECOND)
    directory = max(pages / max(ranges, 1) * args.latency_ms / 1000,
                    pages * SIGN_IN_PAGE_UNITS / GRAPH_UNITS_PER_10_SECONDS * 10)
    writes = 2 * args.due
    act = max(0.0, (writes - GRAPH_WRITES_PER_150_SECONDS) / GRAPH_WRITES_PER_150_SECONDS * 150)
    return {"directory": directory, "records": records, "act": act}


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    environment = stack.environment("Scale", EXPIRY_GUARD_PERCENT=100, EXPIRY_MAX_ACTIONS_PER_RUN=args.due + 1,
                                    GRAPH_MAX_CONCURRENCY=args.concurrency, INACTIVITY_DAYS=args.inactivity_days)
    settings, now = Settings.from_env(environment), datetime.now(UTC)
    seeded = await seed(stack, settings, args, now)
    if args.records == "synthetic":
        environment["BENCH_SYNTHETIC"] = f"{args.tracked},{args.due},{now.isoformat()}"
    stack.control.configure(latencyMs=args.latency_ms)
    outcome = await asyncio.to_thread(sweep_in_own_process, environment, args.time_limit)
    report = outcome["report"]
    assert isinstance(report, dict)
    if report["failures"] or report["guard_tripped"] or report["done"].get("disable", 0) != args.due:
        raise BenchError(f"the sweep did not run cleanly: {json.dumps(report)[:3000]}")
    phases: dict[str, float] = report["seconds"]
    directory = report["directory"]
    rows = args.tracked  # the record rows the survey reads (not their index rows)
    partitions = codec.PARTITION_COUNT
    floor = bounds(args, rows, partitions, int(directory.get("ranges", 1)), int(directory["requests"]))
    peak, baseline = int(outcome["peakKiB"]), int(outcome["baselineKiB"])  # type: ignore[call-overload]
    print(f"scale: {args.tracked:,} tracked guests, {args.due:,} due, records in {args.records}, Graph latency "
          f"{args.latency_ms:g} ms, concurrency {args.concurrency} (seeded in {seeded:.0f} s)")
    for phase in ("directory", "records", "plan", "act"):
        bound = floor.get(phase)
        print(row(f"{phase}", f"{phases.get(phase, 0):.2f} s",
                  f"(lower bound {bound:.1f} s)" if bound is not None else ""))
    print(row("sweep wall time", f"{outcome['seconds']:.2f} s", f"(CPU {outcome['cpuSeconds']:.2f} s)"))
    print(row("directory pass", f"{directory['requests']:g} requests in {directory.get('ranges', 1):g} ranges"))
    print(row("peak resident memory", f"{peak / 1024:.0f} MiB",
              f"(before the sweep {baseline / 1024:.0f} MiB; target <= 512 MiB)"))
    samples = outcome.get("residentMiB") or []
    if samples:
        top = max(samples, key=lambda sample: sample[1])
        print(row("resident memory peaked", f"{top[1]} MiB at {top[0]:g} s",
                  "(" + ", ".join(f"{at:g} s {mib}" for at, mib in samples[::max(1, len(samples) // 8)]) + ")"))
    print(row("bytes per tracked guest", f"{(peak - baseline) * 1024 / args.tracked:.0f}",
              "(peak minus the memory before the sweep)"))
    print(row("disabled", report["done"].get("disable", 0), f"of {args.due}"))
    if outcome.get("recordsWritten") is not None:
        print(row("records written", outcome["recordsWritten"], "(with nothing due: none)"))
    print(f"SCALE {json.dumps({'tracked': args.tracked, 'seconds': outcome['seconds'], 'phases': phases,
                               'peakMiB': round(peak / 1024), 'bounds': floor})}")
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

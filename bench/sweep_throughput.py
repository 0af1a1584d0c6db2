"""Expiry-sweep throughput against Graph's resource-unit throttle: how much of the limit does the sweep use?

N guests are due (expired a day ago); one sweep disables them all: one list request, then per guest a PATCH
(accountEnabled=false) and a POST revokeSignInSessions in one $batch, 1 resource unit each (the envelope costs none).
The emulator's token bucket allows `capacity` units per `window` seconds (the defaults, 60 per 2 s, are 30 RU/s), which
is the ceiling: no client can sustain more. The figure that matters is the units of successful requests per second of
sweep ÷ that limit (target ≥ 0.97), with no request sent while a Retry-After was running ("early") and no failures.

Each configuration runs in a fresh process, and its measured sweep is the first sweep of that process (as the
timer runs after a cold start): there is no warm-up sweep. With several `--concurrency` values each one gets its own
process, and a table of them follows.

    python -m bench.sweep_throughput [--guests 300] [--capacity 60] [--window 2] [--concurrency 8 16]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    BenchError,
    Stack,
    graph_calls,
    make_guest,
    row,
    run_benchmark,
    seed_records,
    seed_users,
    timed_sweep,
)
from lifecycle.config import Settings

TARGET_RATIO = 0.97
BATCH = "POST /$batch"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=300, help="due guests (default 300)")
    parser.add_argument("--capacity", type=float, default=60, help="throttle bucket, resource units (default 60)")
    parser.add_argument("--window", type=float, default=2, help="seconds to refill the bucket (default 2)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16],
                        help="GRAPH_MAX_CONCURRENCY, one process each (default 8 16)")
    parser.add_argument("--time-limit", type=float, default=170,
                        help="stop a configuration's run after this (default 170 s)")
    parser.add_argument("--summary", type=Path, help=argparse.SUPPRESS)  # where a child process writes its figures
    args = parser.parse_args()
    if args.guests < 1 or args.capacity <= 0 or args.window <= 0 or not all(1 <= c <= 64 for c in args.concurrency):
        parser.error("need --guests ≥ 1, --capacity > 0, --window > 0, 1 ≤ --concurrency ≤ 64")
    return args


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    (concurrency,) = args.concurrency
    settings = Settings.from_env(stack.environment(
        "Tput", EXPIRY_GUARD_PERCENT=100, EXPIRY_MAX_ACTIONS_PER_RUN=max(500, args.guests),
        GRAPH_MAX_CONCURRENCY=concurrency))
    now = datetime.now(UTC)
    guests = [make_guest(now, due=True, number=n) for n in range(args.guests)]
    await seed_records(settings, guests)
    seed_users(stack.control, guests)

    control = stack.control
    control.clear_calls()
    control.configure(throttle={"enabled": True, "capacity": args.capacity, "windowSeconds": args.window})  # full
    called = datetime.now(UTC)
    report, seconds = await timed_sweep(settings, timeout=max(5.0, args.time_limit - 25))
    returned = datetime.now(UTC)
    calls = graph_calls(control)
    early = control.calls().get("earlyRequests", 0)
    control.configure(throttle={"enabled": False})
    if report.guard_tripped:
        raise BenchError(f"the mass-deletion guard tripped, the benchmark is misconfigured: {report.guard_message}")
    still_enabled = sum(1 for guest in guests if (control.user(guest.id) or {}).get("accountEnabled") is not False)

    limit = args.capacity / args.window
    ratio = calls.useful_units / seconds / limit
    available = args.capacity + limit * seconds  # the most a client could get in this time: full bucket + refill
    active = calls.active_seconds
    print(f"expiry sweep throughput under the resource-unit throttle (table prefix {settings.table_prefix})")
    print(row("guests due", args.guests))
    print(row("GRAPH_MAX_CONCURRENCY", concurrency))
    print(row("sweep (the first of this process)", f"{seconds:.2f}", "s"))
    envelopes = calls.counts.get(BATCH, 0)  # the items inside are counted under their own routes
    requests, succeeded = calls.total - envelopes, calls.succeeded - envelopes
    print(row("Graph requests made (incl. 429s)", requests, "($batch items one by one)"))
    for route, count in sorted(calls.counts.items()):
        if route != BATCH:
            print(row(f"  {route}", count))
    print(row(f"  in {BATCH} envelopes (charged nothing)", envelopes))
    print(row("Graph requests succeeded", succeeded))
    print(row("429s received", calls.throttled))
    print(row("early requests (while a Retry-After ran)", early))
    print(row("resource units charged (incl. 429s)", calls.resource_units))
    print(row("resource units of successful requests", calls.useful_units))
    print(row("achieved Graph request rate (succeeded)", f"{succeeded / seconds:.1f}", "req/s"))
    print(row("achieved RU rate (successful requests)", f"{calls.useful_units / seconds:.1f}", "RU/s"))
    print(row("ceiling: the emulator's limit", f"{limit:.1f}", f"RU/s ({args.capacity:g} per {args.window:g} s)"))
    met = ratio >= TARGET_RATIO and early == 0 and not report.failures
    print(row("ratio achieved RU rate / limit", f"{ratio:.3f}",
              f"(ceiling 1.00; target >= {TARGET_RATIO}, 0 early, 0 failures: {'met' if met else 'NOT met'})"))
    print(row("share of units available in the sweep", f"{calls.useful_units / available:.2f}",
              f"({calls.useful_units} of {available:.0f}: full bucket + refill)"))
    if active > 0 and calls.first_at and calls.last_at:
        print(row("first to last Graph request", f"{active:.2f}",
                  f"s ({calls.useful_units / active / limit:.2f} of the limit over that span)"))
        print(row("  storage only, before the first", f"{(calls.first_at - called).total_seconds():.2f}", "s"))
        print(row("  storage only, after the last", f"{(returned - calls.last_at).total_seconds():.2f}", "s"))
    print(row("disabled (report)", report.done.get("disable", 0)))
    print(row("users still enabled in the emulator", still_enabled))
    print(row("failures in the report", len(report.failures)))
    for failure in report.failures[:5]:
        print(f"    {failure['action']} {failure['guestId']}: {failure['reason']}")
    if not calls.log_complete:
        print("  (the emulator's call log overflowed: 429 units are estimated from its last 10,000 entries)")
    if args.summary:
        args.summary.write_text(json.dumps({
            "concurrency": concurrency, "seconds": seconds, "throttled": calls.throttled, "early": early,
            "failures": len(report.failures), "ratio": ratio, "span": active}))
    return 0


def run_each(args: argparse.Namespace) -> int:
    """Every --concurrency value in a fresh process of its own, then their figures side by side."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for concurrency in args.concurrency:
            summary = Path(scratch) / f"{concurrency}.json"
            command = [sys.executable, "-m", "bench.sweep_throughput", "--guests", str(args.guests),
                       "--capacity", str(args.capacity), "--window", str(args.window),
                       "--concurrency", str(concurrency), "--time-limit", str(args.time_limit),
                       "--summary", str(summary)]
            code = subprocess.run(command, cwd=ROOT, check=False).returncode
            if code != 0:
                print(f"bench: FAILED: the run at concurrency {concurrency} exited with {code}", file=sys.stderr)
                return code
            rows.append(json.loads(summary.read_text()))
            print()
    print(f"side by side (each a fresh process; ceiling = the limit, ratio 1.000; target >= {TARGET_RATIO}; span s ="
          " first to last Graph request)")
    print(f"  {'GRAPH_MAX_CONCURRENCY':<24}{'sweep s':>9}{'429s':>7}{'early':>7}{'failures':>10}{'ratio':>8}"
          f"{'span s':>9}")
    for figures in rows:
        print(f"  {figures['concurrency']:<24}{figures['seconds']:>9.2f}{figures['throttled']:>7}"
              f"{figures['early']:>7}{figures['failures']:>10}{figures['ratio']:>8.3f}{figures['span']:>9.2f}")
    return 0


if __name__ == "__main__":
    arguments = parse_args()
    if len(arguments.concurrency) > 1:
        sys.exit(run_each(arguments))
    run_benchmark(measure, arguments)

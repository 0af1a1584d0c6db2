"""Expiry-sweep throughput against Graph's resource-unit throttle: how much of the limit does the sweep use?

N guests are due (expired a day ago); one sweep disables them all: per guest a GET refresh, a PATCH
(accountEnabled=false) and a POST revokeSignInSessions, 1 resource unit each. The emulator's token bucket allows
`capacity` units per `window` seconds, so with the defaults (60 per 2 s = 30 RU/s) 300 guests need at least ~28 s.
The figure that matters is the units of successful requests per second of sweep ÷ the limit (target ≥ 0.9), with
no failures.

    python -m bench.sweep_throughput [--guests 300] [--capacity 60] [--window 2] [--concurrency 8]
"""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from bench.common import (
    BenchError, Stack, graph_calls, make_guest, row, run_benchmark, seed_records, seed_users, timed_sweep,
    warm_up,
)
from lifecycle.config import Settings

TARGET_RATIO = 0.9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=300, help="due guests (default 300)")
    parser.add_argument("--capacity", type=float, default=60, help="throttle bucket, resource units (default 60)")
    parser.add_argument("--window", type=float, default=2, help="seconds to refill the bucket (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--time-limit", type=float, default=170, help="stop the whole run after this (default 170 s)")
    args = parser.parse_args()
    if args.guests < 1 or args.capacity <= 0 or args.window <= 0 or not 1 <= args.concurrency <= 64:
        parser.error("need --guests ≥ 1, --capacity > 0, --window > 0, 1 ≤ --concurrency ≤ 64")
    return args


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    await warm_up(stack)
    settings = Settings.from_env(stack.environment(
        "Tput", EXPIRY_GUARD_PERCENT=100, EXPIRY_MAX_ACTIONS_PER_RUN=max(500, args.guests),
        GRAPH_MAX_CONCURRENCY=args.concurrency))
    now = datetime.now(timezone.utc)
    guests = [make_guest(now, due=True, number=n) for n in range(args.guests)]
    await seed_records(settings, guests)
    seed_users(stack.control, guests)

    control = stack.control
    control.clear_calls()
    control.configure(throttle={"enabled": True, "capacity": args.capacity, "windowSeconds": args.window})  # full
    report, seconds = await timed_sweep(settings, timeout=max(5.0, args.time_limit - 25))
    calls = graph_calls(control)
    control.configure(throttle={"enabled": False})
    if report.guard_tripped:
        raise BenchError(f"the mass-deletion guard tripped, the benchmark is misconfigured: {report.guard_message}")
    still_enabled = sum(1 for guest in guests if (control.user(guest.id) or {}).get("accountEnabled") is not False)

    limit = args.capacity / args.window
    request_rate = calls.succeeded / seconds
    unit_rate = calls.useful_units / seconds
    ratio = unit_rate / limit
    available = args.capacity + limit * seconds  # the most a client could get in this time: full bucket + refill
    active = calls.active_seconds
    print(f"expiry sweep throughput under the resource-unit throttle (table prefix {settings.table_prefix})")
    print(row("guests due", args.guests))
    print(row("GRAPH_MAX_CONCURRENCY", args.concurrency))
    print(row("sweep", f"{seconds:.2f}", "s"))
    print(row("Graph requests made (incl. 429s)", calls.total))
    for route, count in sorted(calls.counts.items()):
        print(row(f"  {route}", count))
    print(row("Graph requests succeeded", calls.succeeded))
    print(row("429s received", calls.throttled))
    print(row("resource units charged (incl. 429s)", calls.resource_units))
    print(row("resource units of successful requests", calls.useful_units))
    print(row("achieved Graph request rate (succeeded)", f"{request_rate:.1f}", "req/s"))
    print(row("achieved RU rate (successful requests)", f"{unit_rate:.1f}", "RU/s"))
    print(row("emulator limit", f"{limit:.1f}", f"RU/s ({args.capacity:g} per {args.window:g} s)"))
    print(row("ratio achieved RU rate / limit", f"{ratio:.2f}",
              f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"))
    print(row("share of units available in the sweep", f"{calls.useful_units / available:.2f}",
              f"({calls.useful_units} of {available:.0f}: full bucket + refill)"))
    if active > 0:
        print(row("first to last Graph request", f"{active:.2f}",
                  f"s ({calls.useful_units / active / limit:.2f} of the limit over that span)"))
    print(row("disabled (report)", report.done.get("disable", 0)))
    print(row("users still enabled in the emulator", still_enabled))
    print(row("failures in the report", len(report.failures)))
    for failure in report.failures[:5]:
        print(f"    {failure['action']} {failure['guestId']}: {failure['reason']}")
    if not calls.log_complete:
        print("  (the emulator's call log overflowed: 429 units are estimated from its last 10,000 entries)")
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

"""The sweep's directory pass: Graph requests per thousand guests, and the sweep's wall time for 10,000 tracked.

N guests are tracked (`--tracked`, default 10,000) and exist in Graph as redeemed guests; `--due` of them (default
100) expired a day ago, `--redeemed` of the others (default 1,000) were redeemed in Graph since the records were
written. One sweep: a single paged pass over `GET /users?$filter=userType eq 'Guest'` ($select, 999 per page)
replaces the per-guest refresh reads, every redemption is recorded, the due guests are disabled. Printed: list
requests, requests per thousand guests (target ≤ 2), other Graph requests per guest, redemptions recorded, the
sweep's seconds.

    python -m bench.directory_pass [--tracked 10000] [--due 100] [--redeemed 1000]
"""
from __future__ import annotations

import argparse
import math
from dataclasses import replace
from datetime import UTC, datetime

from bench.common import (
    BenchError,
    Stack,
    graph_calls,
    make_guest,
    row,
    run_benchmark,
    seed_records_bulk,
    seed_users,
    timed_sweep,
    warm_up,
)
from lifecycle.config import Settings
from lifecycle.domain.model import GuestState, InvitationState

TARGET_PER_THOUSAND = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.directory_pass", description=__doc__.split("\n")[0])
    parser.add_argument("--tracked", type=int, default=10_000, help="tracked guests (default 10000)")
    parser.add_argument("--due", type=int, default=100, help="of them, expired a day ago (default 100)")
    parser.add_argument("--redeemed", type=int, default=1000, help="redeemed in Graph since (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--time-limit", type=float, default=170, help="stop the whole run after this (default 170 s)")
    args = parser.parse_args()
    if args.tracked < 1 or not 0 <= args.due <= args.tracked or not 0 <= args.redeemed <= args.tracked - args.due:
        parser.error("need --tracked ≥ 1, 0 ≤ --due ≤ --tracked, 0 ≤ --redeemed ≤ --tracked − --due")
    return args


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    await warm_up(stack)
    settings = Settings.from_env(stack.environment("Dir", EXPIRY_GUARD_PERCENT=100,
                                                   GRAPH_MAX_CONCURRENCY=args.concurrency))
    now = datetime.now(UTC)
    due = [make_guest(now, due=True, number=n) for n in range(args.due)]
    others = [make_guest(now, due=False, number=args.due + n) for n in range(args.tracked - args.due)]
    pending = [replace(g, state=GuestState.INVITED, invitation_state=InvitationState.PENDING)
               for g in others[:args.redeemed]]
    await seed_records_bulk(settings, due + pending + others[args.redeemed:])
    stack.control.reset()
    seed_users(stack.control, due + others)  # every user redeemed in Graph: `pending` records learn it this sweep

    report, seconds = await timed_sweep(settings, timeout=args.time_limit)
    calls = graph_calls(stack.control)
    if report.guard_tripped or report.failures:
        raise BenchError(f"the sweep did not run cleanly: {report.to_text()[:2000]}")
    lists = calls.counts.get("GET /users", 0)
    passed = int(report.directory.get("requests", 0))  # the directory pass's pages; the rest re-check due guests
    per_thousand = passed * 1000 / args.tracked
    batches = calls.counts.get("POST /$batch", 0)  # each holds a guest's PATCH and revoke, counted as its items
    other = calls.total - lists - batches
    print(f"directory pass: {args.tracked:,} tracked guests, {args.due} due, {args.redeemed} redeemed in Graph")
    print(row("list requests (GET /users)", lists, f"(the pass {passed}, ceil({args.tracked}/999) = "
                                                   f"{math.ceil(args.tracked / 999)}; re-checks before acting "
                                                   f"{lists - passed}, 15 due guests a list)"))
    print(row("the pass's list requests per thousand guests", f"{per_thousand:.2f}",
              f"(target <= {TARGET_PER_THOUSAND:g}: {'met' if per_thousand <= TARGET_PER_THOUSAND else 'NOT met'})"))
    print(row("as the sweep reports it", report.directory.get("requestsPerThousandGuests")))
    print(row("other Graph requests", other, f"({other / max(args.due, 1):.1f} per due guest: PATCH + revoke, "
                                             f"in {batches} $batch requests)"))
    print(row("GET /users/{id} (per-guest reads)", calls.counts.get("GET /users/{id}", 0)))
    print(row("redemptions recorded", report.refreshed.get("redeemed", 0), f"of {args.redeemed}"))
    print(row("disabled", report.done.get("disable", 0), f"of {args.due}"))
    print(row(f"sweep wall time, {args.tracked:,} tracked", f"{seconds:.2f}", "s"))
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

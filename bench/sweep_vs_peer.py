"""The expiry sweep against a sequential script doing the same Graph calls, with Graph 50 ms away and no throttle.

N guests are due (`--guests`, default 40). The sweep runs first in this process, without a warm-up (as the timer
runs after a cold start): it reads the directory's guests in one list request and disables every due guest
(PATCH accountEnabled=false, POST revokeSignInSessions), writing its records, audit and events as it goes. Then the
peer, a plain sequential loop over httpx, makes the same Graph calls one after the other against a fresh copy of
the same users, and writes nothing anywhere. Printed: both times, the Graph requests of each (the sweep sends each
guest's PATCH and revoke in one `$batch`), the app's CPU during the sweep, and the ratio peer ÷ sweep (target ≥ 7).

    python -m bench.sweep_vs_peer [--guests 40] [--latency-ms 50] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import httpx

from bench.common import (
    BenchError,
    Stack,
    graph_calls,
    make_guest,
    measured_sweep,
    row,
    run_benchmark,
    seed_records,
    seed_users,
)
from lifecycle.adapters.credentials import DEVELOPMENT_TOKEN
from lifecycle.config import Settings

TARGET_RATIO = 7.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_vs_peer", description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=40, help="due guests (default 40)")
    parser.add_argument("--latency-ms", type=float, default=50, help="added to every Graph answer (default 50)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--time-limit", type=float, default=170, help="stop the whole run after this (default 170 s)")
    args = parser.parse_args()
    if args.guests < 1 or args.latency_ms < 0 or not 1 <= args.concurrency <= 64:
        parser.error("need --guests ≥ 1, --latency-ms ≥ 0, 1 ≤ --concurrency ≤ 64")
    return args


async def peer_loop(graph_url: str) -> int:
    """What a script would do: list the guests, then disable and revoke each one, one call at a time."""
    headers = {"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}
    requests = 0
    async with httpx.AsyncClient(base_url=graph_url, headers=headers, timeout=30) as client:
        url: str | None = "/users?$filter=userType eq 'Guest'&$select=id,accountEnabled&$top=999"
        guests: list[str] = []
        while url:
            page = (await client.get(url)).raise_for_status().json()
            requests += 1
            guests += [user["id"] for user in page["value"] if user.get("accountEnabled")]
            url = page.get("@odata.nextLink")
        for guest in guests:
            (await client.patch(f"/users/{guest}", json={"accountEnabled": False})).raise_for_status()
            (await client.post(f"/users/{guest}/revokeSignInSessions")).raise_for_status()
            requests += 2
    return requests


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    settings = Settings.from_env(stack.environment(
        "Peer", EXPIRY_GUARD_PERCENT=100, EXPIRY_MAX_ACTIONS_PER_RUN=max(500, args.guests),
        GRAPH_MAX_CONCURRENCY=args.concurrency))
    now = datetime.now(UTC)
    guests = [make_guest(now, due=True, number=n) for n in range(args.guests)]
    await seed_records(settings, guests)
    seed_users(stack.control, guests)
    control = stack.control
    control.clear_calls()
    control.configure(latencyMs=args.latency_ms)
    report, sweep_seconds, sweep_cpu = await measured_sweep(settings, timeout=max(5.0, args.time_limit - 40))
    calls = graph_calls(control)
    batches = calls.counts.get("POST /$batch", 0)
    batched = calls.counts.get("PATCH /users/{id}", 0) + calls.counts.get("POST /users/{id}/revokeSignInSessions", 0)
    sweep_requests = calls.total - batched
    if report.failures or report.done.get("disable") != args.guests:
        raise BenchError(f"the sweep did not disable its {args.guests} guests: {report.to_text()}")

    control.configure(latencyMs=0)
    control.reset()
    seed_users(control, guests)
    control.configure(latencyMs=args.latency_ms)
    started = time.perf_counter()
    peer_requests = await peer_loop(stack.emulator.graph_url)
    peer_seconds = time.perf_counter() - started
    control.configure(latencyMs=0)

    ratio = peer_seconds / sweep_seconds
    print(f"expiry sweep vs a sequential peer loop: {args.guests} due guests, Graph latency {args.latency_ms:g} ms, "
          f"no throttle")
    print(row("GRAPH_MAX_CONCURRENCY", args.concurrency))
    print(row("sweep (first in this process, records + audit + events)", f"{sweep_seconds:.2f}",
              f"s ({sweep_requests} Graph requests: {batches} $batch holding {batched}, and the list)"))
    print(row("the app's CPU during the sweep (this process)", f"{sweep_cpu:.2f}",
              f"s ({sweep_cpu / sweep_seconds:.0%} of its wall time; Graph and Azurite run in other processes)"))
    print(row("peer loop (Graph calls only, one at a time)", f"{peer_seconds:.2f}", f"s ({peer_requests} requests)"))
    print(row("ratio peer ÷ sweep", f"{ratio:.1f}×",
              f"(target >= {TARGET_RATIO:g}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"))
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

"""The directory pass in ranges at a million guests: the emulator's bulk seeding (time, memory) and full passes
through `Directory.scan_guests` (GraphDirectory over real HTTP to the emulator, in a process of its own).

Guests are seeded with userPrincipalNames spread over first letters and digits as names are (`--guests`, default
1,000,000); then one pass per `--latency-ms` value (the emulator's per-request latency switch, default 0 and 500) at
GRAPH_MAX_CONCURRENCY `--concurrency` (default 8). Printed: seeding seconds and the emulator's resident memory, then per
pass the guests handed on, requests, ranges, the largest page and the pass's seconds. Nothing but Python and the
emulator is needed (no Azurite).

    python -m bench.directory_ranges [--guests 1000000] [--concurrency 8] [--latency-ms 0 500]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BenchError, EmulatorProcess, row  # noqa: E402
from lifecycle.adapters.graph.directory import GraphDirectory  # noqa: E402
from lifecycle.config import Settings  # noqa: E402
from lifecycle.ports import DirectoryUser  # noqa: E402
from tests.support import app_environment  # noqa: E402

# Rough shares of first letters of people's names (a few digits too), so that ranges differ in size as they do.
SHARES = {"a": 7, "b": 5, "c": 6, "d": 5, "e": 4, "f": 2, "g": 3, "h": 3, "i": 2, "j": 8, "k": 5, "l": 5, "m": 8,
          "n": 3, "o": 1, "p": 4, "q": 0.3, "r": 5, "s": 8, "t": 5, "u": 0.5, "v": 2, "w": 2, "x": 0.2, "y": 1,
          "z": 1, "1": 0.5, "7": 0.5}
CHUNK = 250_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.directory_ranges", description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=1_000_000, help="guests to seed (default 1000000)")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8)")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 500],
                        help="the emulator's latency per request, one pass each (default 0 500)")
    parser.add_argument("--sign-ins", action="store_true", help="select signInActivity (pages of 500)")
    return parser.parse_args()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(emulator: EmulatorProcess, guests: int) -> float:
    """Seed `guests` guests spread over first characters; the seconds it took."""
    total = sum(SHARES.values())
    counts = {first: int(guests * share / total) for first, share in SHARES.items()}
    counts["a"] += guests - sum(counts.values())
    started = time.perf_counter()
    for first, count in counts.items():
        for start in range(0, count, CHUNK):
            emulator.control.seed_users(count=min(CHUNK, count - start), userType="Guest",
                                        mail=first + "guest{n}@partner.example", externalUserState="Accepted")
    return time.perf_counter() - started


async def one_pass(emulator: EmulatorProcess, args: argparse.Namespace, latency_ms: float) -> None:
    emulator.control.configure(latencyMs=latency_ms)
    settings = Settings.from_env(app_environment("UseDevelopmentStorage=true", emulator.graph_url,
                                                 GRAPH_MAX_CONCURRENCY=str(args.concurrency)))
    directory = GraphDirectory(settings)
    seen = largest = 0

    def on_page(page: Sequence[DirectoryUser]) -> None:
        nonlocal seen, largest
        seen += len(page)
        largest = max(largest, len(page))

    started = time.perf_counter()
    try:
        scan = await directory.scan_guests(on_page, sign_in_activity=args.sign_ins)
    finally:
        await directory.close()
    seconds = time.perf_counter() - started
    print(f"pass at concurrency {args.concurrency}, emulator latency {latency_ms:g} ms per request:")
    print(row("guests handed on", f"{seen:,}", f"(scan says {scan.guests:,})"))
    print(row("requests, ranges", f"{scan.requests:,}, {scan.ranges}"))
    print(row("largest page", largest))
    print(row("seconds", f"{seconds:.1f}", f"({seen / seconds:,.0f} guests/s)"))
    if seen != args.guests:
        raise BenchError(f"the pass handed on {seen} guests, not {args.guests}")


async def main(args: argparse.Namespace) -> int:
    emulator = EmulatorProcess().start()
    try:
        emulator.control.configure(throttle={"enabled": False})  # a pass costs 1 RU a page; the budget is not measured
        seconds = seed(emulator, args.guests)
        assert emulator._process is not None
        pid = emulator._process.pid
        print(f"directory ranges: {args.guests:,} guests")
        print(row("bulk seeding seconds", f"{seconds:.1f}"))
        print(row("emulator RSS after seeding (MB)", f"{rss_mb(pid):,.0f}"))
        for latency in args.latency_ms:
            await one_pass(emulator, args, latency)
        print(row("emulator RSS after the passes (MB)", f"{rss_mb(pid):,.0f}"))
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))

"""Adoption of N existing guests from the command line: guests per second, peak memory and bytes per guest.

N redeemed, enabled guests are seeded in the Graph emulator (`seed_users`); none is tracked. Then
`python -m lifecycle adopt --json` runs in a process of its own, with the settings in its environment (records in
Azurite), so that its time and peak resident memory are its own: first on an empty directory (the baseline: imports,
services, an empty pass), then on the N guests. Printed: the run's wall time, guests adopted per second, peak memory
and bytes per guest (peak minus the baseline's, over N), and the report's counts.

    python -m bench.adoption_scale [--guests 5000] [--concurrency 8] [--latency-ms 0]

BENCH_PROFILE="-m cProfile -o /tmp/adopt.prof" profiles the adopting process (each run overwrites the file: the
last is the N guests')."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime

from bench.common import ROOT, BenchError, Stack, make_guest, row, run_benchmark, seed_users, status_kib

MAX_GUESTS = 20_000  # Azurite holds the records in memory: beyond this it, not adoption, is what is measured


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.adoption_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=5_000, help=f"guests to adopt (default 5000, ≤ {MAX_GUESTS})")
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_MAX_CONCURRENCY (default 8; writers: twice)")
    parser.add_argument("--latency-ms", type=float, default=0, help="Graph's latency per request (default 0)")
    parser.add_argument("--time-limit", type=float, default=1800, help="stop the whole run after this (default 1800 s)")
    args = parser.parse_args()
    if not 1 <= args.guests <= MAX_GUESTS or args.latency_ms < 0:
        parser.error(f"need 1 ≤ --guests ≤ {MAX_GUESTS} and --latency-ms ≥ 0")
    return args


class PeakWatcher:
    """The peak resident memory (VmHWM) of another process, read from /proc every `every` seconds until it ends:
    the last reading before it exits, never getrusage's `ru_maxrss`, which Linux carries across `execve` (a child
    started by a large parent would report the parent's peak)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.peak_kib = 0
        self._pid = pid
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, status_kib("VmHWM", self._pid))
            except OSError:  # ended
                return
            self._stop.wait(self._every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def adopt_in_own_process(environment: dict[str, str], timeout: float) -> dict[str, object]:
    """`python -m lifecycle adopt --json` in a fresh process (in an empty directory: no local.settings.json), its
    progress passed through to stderr; returns its report, wall seconds, peak resident memory (KiB) and CPU."""
    with tempfile.TemporaryDirectory() as empty:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, *os.environ.get("BENCH_PROFILE", "").split(), "-m", "lifecycle", "adopt", "--json",
             "--progress-seconds", "15"], cwd=empty,
            env={**os.environ, **environment, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
        watcher = PeakWatcher(child.pid)
        assert child.stdout is not None
        output = child.stdout.read()
        peak_kib = watcher.stop()  # stdout closed: the process is ending, its peak is behind it
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
    if child.returncode != 0 or seconds > timeout:
        raise BenchError(f"adopt exited {child.returncode} after {seconds:.0f} s: {output[-2000:]}")
    return {"report": json.loads(output), "seconds": seconds, "peakKiB": peak_kib,
            "cpuSeconds": usage.ru_utime + usage.ru_stime}


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    environment = stack.environment("Adopt", GRAPH_MAX_CONCURRENCY=args.concurrency)
    baseline = await asyncio.to_thread(adopt_in_own_process, environment, args.time_limit)
    now, started = datetime.now(UTC), time.perf_counter()
    seed_users(stack.control, (make_guest(now, due=False, number=n) for n in range(args.guests)))
    seeded = time.perf_counter() - started
    stack.control.configure(latencyMs=args.latency_ms)
    run = await asyncio.to_thread(adopt_in_own_process, environment, args.time_limit)
    report = run["report"]
    assert isinstance(report, dict)
    if report["adopted"] != args.guests or report["skipped"]:
        raise BenchError(f"adoption did not adopt every guest: {json.dumps(report)[:2000]}")
    seconds, peak, base = float(run["seconds"]), int(run["peakKiB"]), int(baseline["peakKiB"])  # type: ignore[arg-type, call-overload]
    print(f"adoption: {args.guests:,} guests, records in Azurite, Graph latency {args.latency_ms:g} ms, concurrency "
          f"{args.concurrency} (seeded in {seeded:.0f} s)")
    print(row("wall time (process)", f"{seconds:.1f} s", f"(empty directory: {float(baseline['seconds']):.1f} s)"))  # type: ignore[arg-type]
    print(row("CPU of the adopting process", f"{float(run['cpuSeconds']):.1f} s"))  # type: ignore[arg-type]
    print(row("guests adopted per second", f"{args.guests / seconds:.0f}",
              f"(a million: {1_000_000 / (args.guests / seconds) / 60:.0f} min at this rate)"))
    print(row("peak resident memory", f"{peak / 1024:.0f} MiB", f"(empty directory: {base / 1024:.0f} MiB)"))
    print(row("bytes per guest", f"{max(peak - base, 0) * 1024 / args.guests:.0f}", "(peak minus the empty run's)"))
    print(f"ADOPTION {json.dumps({'guests': args.guests, 'seconds': round(seconds, 1),
                                  'perSecond': round(args.guests / seconds), 'peakMiB': round(peak / 1024),
                                  'baselineMiB': round(base / 1024)})}")
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

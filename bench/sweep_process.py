"""One expiry sweep in a process of its own, so that its peak memory is its own: settings from the environment (as
the Functions host gives them), one JSON line out: the report, wall and CPU seconds, resident memory before the
sweep (imports and services built) and at its peak.

    LIFECYCLE_TABLES_CONNECTION_STRING=... GRAPH_BASE_URL=... [BENCH_SYNTHETIC=...] python -m bench.sweep_process
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import quiet_logging, status_kib  # noqa: E402
from lifecycle.config import Settings  # noqa: E402
from lifecycle.ports import GuestStore  # noqa: E402
from lifecycle.wiring import build_services  # noqa: E402


def resident_kib(field: str = "VmRSS") -> int:
    """This process's resident memory now (VmRSS), or at its peak (VmHWM), in KiB."""
    return status_kib(field)


def synthetic_store() -> GuestStore | None:
    """BENCH_SYNTHETIC=<tracked>,<due>,<ISO time>: the records made on demand (bench.synthetic_store)."""
    spec = os.environ.get("BENCH_SYNTHETIC")
    if not spec:
        return None
    from bench.synthetic_store import SyntheticGuestStore

    tracked, due, now = spec.split(",")
    return SyntheticGuestStore(int(tracked), int(due), datetime.fromisoformat(now))


class ResidentSampler:
    """Resident memory every `every` seconds on a thread of its own: when in the sweep the peak came."""

    def __init__(self, every: float = 0.5) -> None:
        self.samples: list[tuple[float, int]] = []
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append((round(time.perf_counter() - self._started, 1), resident_kib() // 1024))

    def __enter__(self) -> ResidentSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def sweep() -> dict[str, object]:
    store = synthetic_store()
    services = build_services(Settings.from_env(), store=store)
    try:
        await services.records.store.ping()  # connections and tables made before the baseline is read
        before = resident_kib()
        started, cpu = time.perf_counter(), time.process_time()
        with ResidentSampler() as sampler:
            report = await services.expiry.run(trigger="bench")
        return {"report": asdict(report), "seconds": time.perf_counter() - started, "residentMiB": sampler.samples,
                "recordsWritten": len(getattr(store, "guests", {})) if store is not None else None,
                "cpuSeconds": time.process_time() - cpu, "baselineKiB": before,
                "peakKiB": resident_kib("VmHWM")}
    finally:
        await services.close()


if __name__ == "__main__":
    quiet_logging()
    print(json.dumps(asyncio.run(sweep())), flush=True)

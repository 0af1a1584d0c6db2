"""What reading a stored record costs the app: the CPU of `TableGuestStore.scan` per record, in record format 2 (dates
as ISO 8601 strings) beside format 1 (typed Edm.DateTime), the same records in the same Azurite.

    python -m bench.record_cost [--records 5000]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.common import Stack, make_guest, row, run_benchmark, seed_records_bulk
from lifecycle.adapters.tables import codec
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client
from lifecycle.adapters.tables.store import TableGuestStore
from lifecycle.config import Settings
from lifecycle.domain.model import Guest


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.record_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=5000, help="records of each format (default 5000)")
    parser.add_argument("--time-limit", type=float, default=600, help="stop the whole run after this (default 600 s)")
    return parser.parse_args()


def format_one(entity: dict[str, Any]) -> dict[str, Any]:
    """The row as record format 1 stored it: its dates typed."""
    dated = {key: typed_date(key, value) for key, value in entity.items()}
    return {**dated, codec.FORMAT_COLUMN: 1}


def typed_date(key: str, value: Any) -> Any:
    if isinstance(value, str) and key.endswith("At") and value[:4].isdigit():
        return datetime.fromisoformat(value)
    return value


async def scan_cpu(settings: Settings) -> tuple[int, float, float]:
    tables = LifecycleTables(build_service_client(settings, None), settings)
    store = TableGuestStore(tables)
    try:
        await store.ping()
        handed: list[Guest] = []
        started, cpu = time.perf_counter(), time.process_time()
        await store.scan(lambda page: handed.extend(page.guests))
        return len(handed), time.process_time() - cpu, time.perf_counter() - started
    finally:
        await tables.close()


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    guests = [make_guest(now, due=False, number=n) for n in range(args.records)]
    figures = {}
    for label in ("format 2", "format 1"):
        settings = Settings.from_env(stack.environment(label.replace(" ", "")))
        if label == "format 1":
            original = codec.guest_to_entity
            codec.guest_to_entity = lambda guest, write=original: format_one(write(guest))  # type: ignore[assignment]
            try:
                await seed_records_bulk(settings, [replace(g) for g in guests])
            finally:
                codec.guest_to_entity = original  # type: ignore[assignment]
        else:
            await seed_records_bulk(settings, guests)
        figures[label] = await scan_cpu(settings)
    print(f"record cost: {args.records:,} records of each format, read with TableGuestStore.scan")
    for label, (count, cpu, wall) in figures.items():
        print(row(label, f"{cpu * 1e6 / count:.0f} µs CPU a record", f"({count} read in {wall:.2f} s)"))
    ratio = (figures["format 1"][1] / figures["format 1"][0]) / (figures["format 2"][1] / figures["format 2"][0])
    print(row("format 1 ÷ format 2", f"{ratio:.2f}"))
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

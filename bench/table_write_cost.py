"""What writing a Table row costs this process through azure-data-tables: CPU per entity, one entity a request
(`create_entity`) beside entity-group transactions of 1, 4, 25 and 100 operations, the same rows in the same Azurite,
16 requests in flight. It is the floor under every write path of the app (adoption above all), whatever the code
around the SDK does.

    python -m bench.table_write_cost [--entities 2000]
"""
from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from bench.common import Stack, gather_bounded, row, run_benchmark
from lifecycle.adapters.tables.client import build_service_client
from lifecycle.config import Settings

IN_FLIGHT = 16
SHAPES = (0, 1, 4, 25, 100)  # 0: create_entity, one entity a request; n: transactions of n operations


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.table_write_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=2000, help="entities written in each shape (default 2000)")
    parser.add_argument("--time-limit", type=float, default=600, help="stop the whole run after this (default 600 s)")
    return parser.parse_args()


def guest_like_row(partition: str, number: int) -> dict[str, Any]:
    """A row of about a record's size and mix of types."""
    return {"PartitionKey": partition, "RowKey": f"r{number:07d}-{uuid.uuid4().hex[:6]}",
            "Email": f"guest{number}@fabrikam.example", "DisplayName": f"Guest {number}", "State": "active",
            "ExpiresAt": "2027-06-01T00:00:00+00:00", "Sponsors": '["' + "0" * 36 + '"]', "Groups": "[]",
            "Format": 2, "Enabled": True}


async def measure(stack: Stack, args: argparse.Namespace) -> int:
    settings = Settings.from_env(stack.environment("WriteCost"))
    service = build_service_client(settings, None)
    table = service.get_table_client(f"writecost{uuid.uuid4().hex[:8]}")
    try:
        await table.create_table()
        await table.create_entity(guest_like_row("warm", 0))  # connection and first-request costs out of the figures
        print(f"table write cost: {args.entities:,} entities in each shape, {IN_FLIGHT} requests in flight, Azurite")
        figures: dict[int, float] = {}
        for shape in SHAPES:
            count = args.entities - args.entities % max(shape, 1)

            async def write(start: int, shape: int = shape) -> Any:
                if shape == 0:
                    return await table.create_entity(guest_like_row("single", start))
                rows = [guest_like_row(f"tx{shape}-{start % IN_FLIGHT}", n) for n in range(start, start + shape)]
                return await table.submit_transaction([("create", entity) for entity in rows])

            starts = range(count) if shape == 0 else range(0, count, shape)
            cpu, wall = time.process_time(), time.perf_counter()
            await gather_bounded(starts, write, IN_FLIGHT)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            figures[shape] = cpu * 1e6 / count
            label = "create_entity" if shape == 0 else f"transactions of {shape}"
            print(row(label, f"{figures[shape]:.0f} µs CPU an entity", f"({count:,} in {wall:.2f} s)"))
        print(row("one a request ÷ transactions of 100", f"{figures[0] / figures[100]:.2f}"))
    finally:
        await table.close()
        await service.close()
    return 0


if __name__ == "__main__":
    run_benchmark(measure, parse_args())

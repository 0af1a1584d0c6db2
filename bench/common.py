"""What both benchmarks share: Azurite and the Graph emulator started locally, seeding, one timed sweep, the call log.

Nothing here talks to Azure: storage is Azurite (from node_modules), Graph is the project's emulator in a process of
its own (`python -m graph_emulator`), as Graph is a network hop away from the app: the emulator's work does not take
the benchmark process's CPU or interpreter lock."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from graph_emulator.client import EmulatorControl  # noqa: E402
from graph_emulator.faults import resource_cost  # noqa: E402
from lifecycle.adapters.tables import codec  # noqa: E402
from lifecycle.adapters.tables.client import LifecycleTables, build_service_client  # noqa: E402
from lifecycle.adapters.tables.layout import DONE, write_marker  # noqa: E402
from lifecycle.adapters.tables.store import TableGuestStore  # noqa: E402
from lifecycle.config import Settings, Tuning  # noqa: E402
from lifecycle.domain.model import Guest, GuestState, InvitationState  # noqa: E402
from lifecycle.services.sweep import SweepReport  # noqa: E402
from lifecycle.wiring import build_services  # noqa: E402
from tests import support  # noqa: E402

DAY = timedelta(days=1)
EMAIL_DOMAIN = "fabrikam.example"


class BenchError(RuntimeError):
    """The run itself failed (a service did not start, seeding failed, a sweep crashed or timed out)."""


# --- local services --------------------------------------------------------------------------------
class Azurite(support.Azurite):
    """The tests' Azurite process; a failed start is a failed benchmark run."""

    def start(self) -> Azurite:
        try:
            super().start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        return self


@dataclass
class Stack:
    azurite: Azurite
    emulator: EmulatorProcess

    @property
    def control(self) -> EmulatorControl:
        return self.emulator.control

    def environment(self, tag: str, **overrides: Any) -> dict[str, str]:
        """App settings for one run: a table prefix and an events queue nobody else uses."""
        run = uuid.uuid4().hex[:10]
        env = {"GRAPH_BASE_URL": self.emulator.graph_url,
               "LIFECYCLE_TABLES_CONNECTION_STRING": self.azurite.connection_string,
               "LIFECYCLE_TABLE_PREFIX": f"bench{tag}{run}", "LIFECYCLE_EVENTS_QUEUE": f"bench-{tag.lower()}-{run}"}
        env.update({name: str(value) for name, value in overrides.items()})
        return env


EXPIRED = threading.Event()  # set by the watchdog: errors after it are its doing, not the run's


class Watchdog:
    """Ends the process (after stopping Azurite) if the benchmark overruns its time limit, whatever hangs."""

    def __init__(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(seconds, on_expiry), daemon=True,
                                        name="bench-watchdog")

    def _watch(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        if self._done.wait(seconds):
            return
        EXPIRED.set()
        print(f"\nbench: time limit of {seconds:.0f} s exceeded; stopping", file=sys.stderr, flush=True)
        try:
            on_expiry()
        finally:
            os._exit(3)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()


class EmulatorProcess:
    """`python -m graph_emulator` on a free port, in its own process; `graph_url` and `control` as the
    in-process server has them."""

    def __init__(self, start_timeout: float = 20.0) -> None:
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        self.url = ""
        self._control: EmulatorControl | None = None

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def start(self) -> EmulatorProcess:
        self._process = subprocess.Popen([sys.executable, "-m", "graph_emulator", "--port", "0"], cwd=ROOT,
                                         stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self._start_timeout
        assert self._process.stdout is not None
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            if line.startswith("GRAPH_BASE_URL="):
                self.url = line.split("=", 1)[1].strip().removesuffix("/v1.0")
                threading.Thread(target=self._process.stdout.read, daemon=True).start()  # drain the rest
                return self
        self.stop()
        raise BenchError("the Graph emulator did not start (python -m graph_emulator)")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


@contextmanager
def local_stack(time_limit: float) -> Iterator[Stack]:
    """Azurite and the emulator, both stopped on the way out (also when the time limit is exceeded)."""
    azurite, emulator = Azurite(), EmulatorProcess()

    def stop_both() -> None:
        emulator.stop()
        azurite.stop()

    watchdog = Watchdog(time_limit, stop_both).start()
    try:
        azurite.start()
        yield Stack(azurite, emulator.start())
    finally:
        watchdog.stop()
        stop_both()


def quiet_logging() -> None:
    """Warnings and errors to stderr only: the sweep logs its whole report at INFO, which is not a figure."""
    import structlog

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))


def run_benchmark(measure: Callable[[Stack, argparse.Namespace], Coroutine[Any, Any, int]],
                  args: argparse.Namespace) -> None:
    """Run a benchmark on a fresh local stack; exit 0 when it ran, 1 when the run itself failed (with the reason)."""
    async def main() -> int:
        with local_stack(args.time_limit) as stack:
            return await measure(stack, args)

    quiet_logging()
    try:
        code = asyncio.run(main())
    except BaseException as exc:
        if EXPIRED.is_set():  # the watchdog is stopping Azurite and will end the process (exit status 3)
            time.sleep(30)
        if not isinstance(exc, BenchError):
            raise
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


# --- seeding ---------------------------------------------------------------------------------------
def make_guest(now: datetime, *, due: bool, number: int) -> Guest:
    """A redeemed guest whose expiry is a day past (due: disable) or 180 days ahead (nothing due, not even a
    notice: EXPIRY_NOTICE_DAYS defaults to 14)."""
    guest_id = str(uuid.uuid4())
    created = now - 200 * DAY
    return Guest(id=guest_id, email=f"bench-{number}-{guest_id[:8]}@{EMAIL_DOMAIN}", display_name=f"Bench {number}",
                 state=GuestState.ACTIVE, invitation_state=InvitationState.ACCEPTED,
                 expires_at=now - DAY if due else now + 180 * DAY, invited_at=created, created_at=created,
                 updated_at=created)


def status_kib(field: str, pid: int | str = "self") -> int:
    """A memory figure of a process from /proc/<pid>/status, in KiB: `VmRSS` now, `VmHWM` its peak (not getrusage's
    `ru_maxrss`, which Linux carries across `execve`: a child of a large parent would report the parent's peak).
    Raises OSError when the process is gone."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def gather_bounded[T](items: Iterable[T], work: Callable[[T], Coroutine[Any, Any, Any]], limit: int) -> list[Any]:
    slots = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with slots:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def seed_records(settings: Settings, guests: Sequence[Guest], concurrency: int = 16) -> None:
    """Write each guest through the store adapter (`TableGuestStore.create`: record + index rows, one transaction)."""
    tables = LifecycleTables(build_service_client(settings, None), settings)
    store = TableGuestStore(tables)
    try:
        await gather_bounded(guests, lambda guest: store.create(guest, None), concurrency)
    finally:
        await tables.close()


async def seed_records_bulk(settings: Settings, guests: Sequence[Guest], per_transaction: int = 50,
                            concurrency: int = 4) -> None:
    """Write many guests fast: the same entities `TableGuestStore.create(guest, None)` writes (the adapter's own
    codec: the record plus its index rows, in the record's partition), packed into transactions of up to 100
    operations of one partition; the table's layout marker first, as a new deployment writes it."""
    tables = LifecycleTables(build_service_client(settings, None), settings)
    try:
        client = await tables.table("guests")
        await write_marker(client, DONE)
        by_partition: dict[str, list[list[tuple[str, dict[str, Any]]]]] = {}
        for guest in guests:
            operations = [("create", codec.guest_to_entity(guest))]
            operations += [("upsert", codec.index_entity(key)) for key in sorted(codec.index_rows(guest))]
            batches = by_partition.setdefault(operations[0][1]["PartitionKey"], [[]])
            if len(batches[-1]) + len(operations) > min(per_transaction * 2, 100):
                batches.append([])
            batches[-1].extend(operations)
        every = [batch for batches in by_partition.values() for batch in batches if batch]
        await gather_bounded(every, client.submit_transaction, concurrency)
    finally:
        await tables.close()


def seed_users(control: EmulatorControl, guests: Iterable[Guest], per_call: int = 2000,
               signed_in: datetime | None = None) -> None:
    """The matching guest users in the emulator (redeemed, enabled), through its bulk seeding call; with
    `signed_in`, each last signed in then."""
    activity = {"signInActivity": {"lastSuccessfulSignInDateTime": signed_in.isoformat()}} if signed_in else {}
    bodies = [{"id": guest.id, "userType": "Guest", "mail": guest.email, "displayName": guest.display_name,
               "externalUserState": "Accepted", "accountEnabled": True, **activity} for guest in guests]
    for start in range(0, len(bodies), per_call):
        control.seed_users(users=bodies[start:start + per_call])


# --- sweeping --------------------------------------------------------------------------------------
async def timed_sweep(settings: Settings, tuning: Tuning | None = None,
                      timeout: float = 150.0) -> tuple[SweepReport, float]:
    """One sweep on freshly built services (real adapters); the seconds of `ExpirySweep.run()` alone."""
    report, seconds, _ = await measured_sweep(settings, tuning, timeout)
    return report, seconds


async def measured_sweep(settings: Settings, tuning: Tuning | None = None,
                         timeout: float = 150.0) -> tuple[SweepReport, float, float]:
    """`timed_sweep`, and the CPU seconds this process spent in `ExpirySweep.run()`."""
    services = build_services(settings, tuning=tuning)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            report = await asyncio.wait_for(services.expiry.run(), timeout)
        except TimeoutError:
            raise BenchError(f"the sweep did not finish in {timeout:.0f} s") from None
        except Exception as exc:  # a crash of the sweep is a failed run, not a figure
            raise BenchError(f"the sweep raised {type(exc).__name__}: {exc}") from exc
        return report, time.perf_counter() - started, time.process_time() - cpu
    finally:
        await services.close()


async def warm_up(stack: Stack, guests: int = 4) -> None:
    """A tiny sweep first, so that imports, SDK request builders and the first connections are not billed to the
    configuration measured first."""
    settings = Settings.from_env(stack.environment("Warm", EXPIRY_GUARD_PERCENT="100"))
    now = datetime.now(UTC)
    seeded = [make_guest(now, due=True, number=n) for n in range(guests)]
    await seed_records(settings, seeded)
    seed_users(stack.control, seeded)
    report, _ = await timed_sweep(settings, timeout=60)
    if report.failures or report.done.get("disable") != guests:
        raise BenchError(f"the warm-up sweep did not disable its {guests} guests: {report.to_text()}")
    stack.control.reset()


@dataclass
class GraphCalls:
    """What the emulator saw: every Graph request (429s included), the units charged, and when."""

    total: int
    throttled: int
    faults: int
    resource_units: int
    throttled_units: int
    counts: dict[str, int]
    first_at: datetime | None
    last_at: datetime | None
    log_complete: bool

    @property
    def succeeded(self) -> int:
        return self.total - self.throttled - self.faults

    @property
    def useful_units(self) -> int:
        return self.resource_units - self.throttled_units

    @property
    def active_seconds(self) -> float:
        if self.first_at is None or self.last_at is None:
            return 0.0
        return (self.last_at - self.first_at).total_seconds()


def graph_calls(control: EmulatorControl) -> GraphCalls:
    body = control.calls()
    log = body.get("log") or []
    # The log keeps paths, not query strings: a throttled request's cost is recomputed without them, which is exact for
    # the routes the sweep uses (GET /users/{id} with $select, PATCH, POST: 1 unit each).
    throttled_units = sum(resource_cost(entry["method"], entry["route"], {}) for entry in log
                          if entry.get("kind") == "throttled")
    times = [datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) for entry in log]
    return GraphCalls(total=body["total"], throttled=body["throttled"], faults=body.get("faults", 0),
                      resource_units=body["resourceUnits"], throttled_units=throttled_units,
                      counts=dict(body.get("counts") or {}), first_at=min(times) if times else None,
                      last_at=max(times) if times else None, log_complete=len(log) == body["total"])


def row(label: str, value: Any, unit: str = "") -> str:
    return f"  {label:<44} {value}{(' ' + unit) if unit else ''}"

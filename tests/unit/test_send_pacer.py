"""The send pacer of the Graph adapter at its boundaries, on a fake clock (and, in a closed loop, against the
emulator's own token bucket on the same clock)."""

import asyncio

import pytest

from graph_emulator.config import Throttle
from graph_emulator.faults import TokenBucket
from lifecycle.adapters.graph.throttle import SendPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answered(pacer: SendPacer, use: float | None = None, status: int = 200, units: str = "1") -> None:
    headers = {"x-ms-resource-unit": units}
    if use is not None:
        headers["x-ms-throttle-limit-percentage"] = f"{use:g}"
    pacer.observe(status, headers)


def pacing_at(clock: FakeClock, rate_per_second: int = 100) -> SendPacer:
    """A pacer that saw a second of plain answers, then one header."""
    pacer = SendPacer(clock)
    for _ in range(rate_per_second):
        clock.now += 1 / rate_per_second
        answered(pacer)
    clock.now += 1 / rate_per_second
    answered(pacer, use=0.81)
    return pacer


def test_without_the_header_nothing_is_paced():
    clock = FakeClock()
    pacer = SendPacer(clock)
    for _ in range(1000):
        clock.now += 0.001
        answered(pacer, units="3")
        assert pacer.take() == 0.0
    assert pacer.rate is None


def test_the_first_header_halves_the_rate_to_what_was_answered_in_the_last_second():
    clock = FakeClock()
    pacer = pacing_at(clock, 100)

    assert 48 <= pacer.rate <= 53
    held = pacer.take()  # what is already in flight takes most of what is left: the next send waits a slot
    assert held == pytest.approx(SendPacer.burst / pacer.rate)
    assert pacer.take() == held  # nothing was taken by asking
    clock.now += held
    assert pacer.take() == 0.0
    assert pacer.take() == pytest.approx(1 / pacer.rate)


def test_above_the_target_use_it_sends_slower_than_below():
    rates = {}
    for last in (0.85, 0.95):
        clock = FakeClock()
        pacer = pacing_at(clock)
        pacer.bucket.capacity = 60.0
        for use in (0.86, 0.87, 0.87, last):
            clock.now += 0.03
            answered(pacer, use=use)
        rates[last] = pacer.rate
    assert rates[0.95] < rates[0.85]


def test_the_rate_never_drops_below_its_floor():
    clock = FakeClock()
    pacer = pacing_at(clock)
    pacer.bucket.capacity = 10.0
    for _ in range(20):
        clock.now += 0.01
        answered(pacer, use=1.8)
    assert pacer.rate == SendPacer.least_rate


def test_answers_without_the_header_speed_it_up_then_end_the_pacing():
    clock = FakeClock()
    pacer = pacing_at(clock)
    paced = pacer.rate

    clock.now += 0.5
    answered(pacer)
    assert 1.4 * paced <= pacer.rate <= 1.42 * paced  # doubles per second without the header
    clock.now += 0.6
    answered(pacer)
    assert pacer.rate is None and pacer.take() == 0.0


def test_a_429_halves_a_paced_rate_and_leaves_an_unpaced_worker_to_the_shared_pause():
    clock = FakeClock()
    unpaced = SendPacer(clock)
    answered(unpaced, status=429)
    assert unpaced.rate is None

    pacer = pacing_at(clock)
    paced = pacer.rate
    answered(pacer, status=429)
    assert pacer.rate == paced / 2


def test_unreadable_headers_count_as_absent():
    clock = FakeClock()
    pacer = SendPacer(clock)
    pacer.observe(200, {"x-ms-throttle-limit-percentage": "high", "x-ms-resource-unit": "-2"})
    pacer.observe(200, {"x-ms-throttle-limit-percentage": "nan"})
    assert pacer.rate is None


async def test_a_call_never_waits_longer_than_it_may():
    pacer = SendPacer()
    pacer.rate = SendPacer.least_rate
    for _ in range(50):
        pacer.take()  # fifty units owed: 50 s at this rate
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pacer.wait(longest=0.05)
    await pacer.wait(longest=0)
    assert loop.time() - started < 0.5


def closed_loop(capacity: float, window: float, seconds: float, send_every: float = 0.002) -> dict:
    """A worker that would send every `send_every` s, paced, against the emulator's bucket on the same clock."""
    clock = FakeClock()
    bucket = TokenBucket(Throttle(enabled=True, capacity=capacity, window_seconds=window), clock=clock)
    pacer = SendPacer(clock)
    end, late_units, throttled = clock.now + seconds, 0, 0
    while clock.now < end:
        wait = pacer.take()
        if wait > 0:
            clock.now += wait
            continue
        refused = bucket.charge(1) is not None
        throttled += refused
        late_units += not refused and clock.now > end - seconds / 2
        headers = {"x-ms-resource-unit": "1"}
        if not refused and (percentage := bucket.limit_percentage()):
            headers["x-ms-throttle-limit-percentage"] = percentage
        pacer.observe(429 if refused else 200, headers)
        clock.now += send_every
    return {"throttled": throttled, "late_rate": late_units / (seconds / 2), "use": bucket.use()}


def test_paced_against_a_small_bucket_it_holds_the_refill_rate_without_a_429():
    run = closed_loop(capacity=60, window=2, seconds=40)  # 30 RU/s; the worker could send 500

    assert run["throttled"] == 0
    assert 0.97 * 30 <= run["late_rate"] <= 30 + 60 / 20  # no more than the refill and what the bucket held
    assert 0.8 < run["use"] < 1.0


def test_paced_against_graphs_size_of_bucket_it_holds_the_refill_rate_without_a_429():
    run = closed_loop(capacity=3500, window=10, seconds=60, send_every=0.001)  # 350 RU/s; the worker could send 1000

    assert run["throttled"] == 0
    assert 0.97 * 350 <= run["late_rate"] <= 350 + 3500 / 30


def test_a_batch_takes_a_slot_for_each_request_it_holds():
    clocks = FakeClock(), FakeClock()
    single, batch = pacing_at(clocks[0]), pacing_at(clocks[1])
    for clock, pacer in zip(clocks, (single, batch), strict=True):
        clock.now += pacer.take()

    assert single.take() == 0.0 and batch.take(requests=3) == 0.0
    assert batch.take() == pytest.approx(3 * single.take()) and single.take() > 0

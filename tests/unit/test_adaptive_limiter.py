import asyncio

import pytest

from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.adapters.graph.retry import GraphRetryPolicy
from lifecycle.adapters.graph.throttle import AdaptiveLimiter, ThrottleGate
from lifecycle.config import Settings
from lifecycle.errors import GraphUnavailable


async def test_limit_halves_on_throttling_and_grows_back():
    limiter = AdaptiveLimiter(8)
    limiter.throttled()
    limiter.throttled()
    assert int(limiter._limit) == 2
    for _ in range(40):
        limiter.succeeded()
    assert limiter._limit == 8.0
    for _ in range(10):
        limiter.throttled()
    assert limiter._limit == 1.0


async def test_no_more_calls_in_flight_than_the_limit():
    limiter = AdaptiveLimiter(3)
    limiter.throttled()  # 1.5 -> one at a time
    running, peak = 0, 0

    async def call():
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(call() for _ in range(6)))
    assert peak == 1


async def test_gate_holds_calls_until_retry_after():
    gate = ThrottleGate()
    loop = asyncio.get_running_loop()
    gate.pause(0.2)
    started = loop.time()
    await gate.wait()
    assert loop.time() - started >= 0.19


async def test_a_pause_longer_than_a_call_may_wait_refuses_at_once_with_the_time_left():
    gate = ThrottleGate()
    gate.pause(600)
    with pytest.raises(GraphUnavailable) as refused:
        await gate.wait(longest=30)
    assert 590 <= refused.value.retry_after <= 600 and refused.value.graph_status == 429
    assert gate.remaining() > 30


async def test_an_open_gate_lets_calls_through():
    gate = ThrottleGate()
    await gate.wait(longest=0)
    assert gate.remaining() == 0


async def test_a_long_retry_after_pauses_the_whole_worker_and_halves_its_concurrency():
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0", "GRAPH_MAX_CONCURRENCY": "8",
                                  "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    directory = GraphDirectory(settings, GraphRetryPolicy(max_wait=30))
    try:
        directory._throttled(GraphUnavailable("throttled", retry_after=600, graph_status=429))
        assert directory._gate.remaining() > 30
        assert directory._slots.limit == 4
        with pytest.raises(GraphUnavailable) as refused:
            await directory.get_user("6f1c1ef7-2b1e-4a3c-9d51-00000000000a")  # refused before any request
        assert refused.value.retry_after > 30
    finally:
        await directory.close()


async def test_a_503_does_not_pause_the_worker():
    settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0",
                                  "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    directory = GraphDirectory(settings)
    try:
        directory._throttled(GraphUnavailable("unavailable", retry_after=600, graph_status=503))
        assert directory._gate.remaining() == 0 and directory._slots.limit == settings.graph_max_concurrency
    finally:
        await directory.close()

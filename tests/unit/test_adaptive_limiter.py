import asyncio

from lifecycle.adapters.graph import AdaptiveLimiter, ThrottleGate


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

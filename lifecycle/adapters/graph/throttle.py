"""How the Graph adapter keeps within Graph's throttling: a pause shared by the worker after a 429, calls in flight
adapted to it (AIMD), and a send pacer fed by Graph's `x-ms-throttle-limit-percentage` and `x-ms-resource-unit`
headers that slows down before the resource-unit bucket is empty."""
from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from lifecycle.errors import GraphUnavailable


class ThrottleGate:
    """A pause shared by every call of this worker: once Graph answers 429, nothing goes out until its Retry-After
    has passed (throttled requests still cost, so retrying early only prolongs the throttling). A call that would
    have to wait longer than it may is refused at once with the time left, without reaching Graph."""

    def __init__(self) -> None:
        self._resume_at = 0.0

    def remaining(self) -> float:
        """Seconds until calls may go out again (0 when open)."""
        return max(0.0, self._resume_at - asyncio.get_running_loop().time())

    async def wait(self, longest: float = math.inf) -> None:
        """Wait for the pause to end; raise GraphUnavailable (with Retry-After) if it ends later than `longest`."""
        delay = self.remaining()
        if delay > longest:
            raise GraphUnavailable(f"Graph throttled this worker; calls resume in {math.ceil(delay)} s",
                                   retry_after=math.ceil(delay), graph_status=429, graph_code="TooManyRequests")
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, asyncio.get_running_loop().time() + seconds)


class AdaptiveLimiter:
    """Calls in flight, at most GRAPH_MAX_CONCURRENCY: halved on a 429, then grown back by one per `limit` successes
    (additive increase, multiplicative decrease), so a throttled worker stops wasting requests that Graph charges."""

    def __init__(self, maximum: int) -> None:
        self._maximum = float(maximum)
        self._limit = float(maximum)
        self._in_flight = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < int(self._limit))
            self._in_flight += 1
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return int(self._limit)

    def throttled(self) -> None:
        self._limit = max(1.0, self._limit / 2)

    def succeeded(self) -> None:
        self._limit = min(self._maximum, self._limit + 1 / self._limit)


LIMIT_HEADER_FROM = 0.8  # Graph sends x-ms-throttle-limit-percentage only above this use


class BucketEstimate:
    """What this worker can tell of Graph's resource-unit bucket from x-ms-throttle-limit-percentage readings: the
    bucket's size and the units it refills per second. The bucket obeys d(use)/dt = (units sent/s − refill) / size.

    The size is first taken from how far the use rose for the units sent when the header first came (the worker
    was then sending faster than the refill); it is then refined by a least-squares line through quarter-second
    samples (send rate, use slope), which needs no assumption about the refill. The refill is the units sent over
    the last half second less what the use rose by (times the size), per second."""

    window = 0.5  # seconds of readings the refill is estimated from
    least_seconds = 0.0  # ... and no fewer
    least_readings = 4
    least_rise = 0.02  # the use must have risen this much before the size is first estimated
    sample_seconds = 0.25
    memory = 0.8  # weight left to the older samples at each new one
    least_spread = 0.1  # the send rates sampled must differ by this share of their mean for a line through them

    def __init__(self) -> None:
        self.capacity: float | None = None
        self._readings: deque[tuple[float, float, float]] = deque()
        self._sample_start: tuple[float, float, float] | None = None
        self._sums = [0.0] * 5  # weight, Σx, Σy, Σx², Σxy of (send rate, use slope) samples

    def forget_readings(self) -> None:
        """The run of readings broke (an answer without the header, or a 429): start the next one afresh."""
        self._readings.clear()
        self._sample_start = None

    def refill(self, now: float, use: float, charged: float) -> float | None:
        """Add a reading (the use, and all units charged so far) and return the estimated refill per second,
        None while the size is not known yet."""
        reading = (now, use, charged)
        self._readings.append(reading)
        while len(self._readings) > self.least_readings and self._readings[0][0] < now - self.window:
            self._readings.popleft()
        since, use_then, charged_then = self._readings[0]
        sent, risen, seconds = charged - charged_then, use - use_then, now - since
        if self.capacity is None and risen >= self.least_rise and len(self._readings) >= self.least_readings:
            self.capacity = sent / risen
        self._sample(reading)
        if self.capacity is None or seconds <= self.least_seconds:
            return None
        return max(0.05 * sent, sent - self.capacity * risen) / seconds

    def _sample(self, reading: tuple[float, float, float]) -> None:
        if self._sample_start is None:
            self._sample_start = reading
            return
        (start, use_then, charged_then), (now, use, charged) = self._sample_start, reading
        seconds = now - start
        if seconds < self.sample_seconds:
            return
        self._sample_start = reading
        rate, slope = (charged - charged_then) / seconds, (use - use_then) / seconds
        weight, sx, sy, sxx, sxy = (value * self.memory for value in self._sums)
        self._sums = [weight + 1, sx + rate, sy + slope, sxx + rate * rate, sxy + rate * slope]
        weight, sx, sy, sxx, sxy = self._sums
        variance, covariance = sxx / weight - (sx / weight) ** 2, sxy / weight - sx * sy / weight ** 2
        if weight >= 2 and variance > (self.least_spread * sx / weight) ** 2 and covariance > 0:
            per_unit = covariance / variance  # 1 / size
            if sx / weight - sy / weight / per_unit > 0:  # the line crosses zero slope at a positive refill
                self.capacity = 1 / per_unit


class SendPacer:
    """Spaces this worker's Graph requests by the resource units they cost once Graph says the limit is nearly used,
    so that they slow down before the bucket is empty instead of after a 429.

    Graph sends `x-ms-throttle-limit-percentage` (the share of the limit in use, 0.8 to 1.8) only while the app has used
    more than 0.8 of its limit, and `x-ms-resource-unit` (what the request cost) on every answer (throttling-limits.md,
    "Identity and access service limits"). No header, no pacing: an unthrottled worker never waits here. At the first
    header the rate drops to half of what was answered over the last second; once the bucket is estimated
    (BucketEstimate), requests go at its refill rate, slower above `target` use and faster below it (`gain`). An answer
    without the header speeds it up (doubling per second, and at least the rate for 0.8 use); a second without one (or
    the time the bucket takes to refill, when known) ends the pacing; and a 429 while pacing brings the rate back to the
    estimated refill (the Retry-After counts as time with the header). Time comes from `clock`, so a fake clock makes it
    deterministic."""

    quiet = 1.0  # seconds without the header that end the pacing
    least_rate = 1.0  # resource units per second
    burst = 2.0  # resource units that may go at once after a pause

    def __init__(self, clock: Callable[[], float] = time.monotonic, target: float = 0.9, gain: float = 4.0) -> None:
        self._clock = clock
        self._target = target
        self._gain = gain
        self.rate: float | None = None  # resource units per second; None: not pacing
        self.bucket = BucketEstimate()
        self._refill: float | None = None
        self._credit = 0.0
        self._credit_at = 0.0
        self._mean_cost = 1.0
        self._charged = 0.0
        self._answers: deque[tuple[float, int]] = deque()
        self._last_header = self._last_answer = clock()

    def take(self, requests: int = 1) -> float:
        """Take a send slot for `requests` Graph requests (the items of a $batch count one each) if there is one now
        (0.0); else the seconds until there will be, nothing taken."""
        if self.rate is None:
            return 0.0
        now = self._clock()
        self._credit = min(self.burst, self._credit + (now - self._credit_at) * self.rate)
        self._credit_at = now
        if self._credit >= -1e-9:
            self._credit -= self._mean_cost * requests
            return 0.0
        return -self._credit / self.rate

    async def wait(self, longest: float, requests: int = 1) -> None:
        """Wait for a send slot for `requests` requests, never longer than `longest` seconds (then they go anyway:
        the header said the bucket was not empty, and a 429 is handled as ever)."""
        deadline = self._clock() + max(0.0, longest)
        while (delay := self.take(requests)) > 0 and (left := deadline - self._clock()) > 0:
            await asyncio.sleep(min(delay, left))

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one Graph answer (its status and headers)."""
        now = self._clock()
        units = _header_number(headers, "x-ms-resource-unit")
        cost = max(1, int(units)) if units else 1
        since_last, self._last_answer = now - self._last_answer, now
        self._charged += cost
        self._mean_cost += (cost - self._mean_cost) / 8
        self._answers.append((now, cost))
        while self._answers[0][0] < now - 1.0:
            self._answers.popleft()
        use = _header_number(headers, "x-ms-throttle-limit-percentage")
        if status == 429:
            self._throttled(now, _header_number(headers, "retry-after") or 1.0)
        elif use is None:
            self._no_header(now, since_last)
        else:
            self._reading(now, use)

    def _throttled(self, now: float, retry_after: float) -> None:
        """A 429 while pacing: back to the refill rate at most, and the pause counts as time with the header.
        (Unpaced, the shared pause and the halved concurrency act alone.)"""
        self.bucket.forget_readings()
        if self.rate is not None:
            self.rate = max(self.least_rate, min(self.rate, self._refill or self.rate / 2))
            self._last_header = self._last_answer = max(self._last_header, now + retry_after)

    def _no_header(self, now: float, since_last: float) -> None:
        self.bucket.forget_readings()
        if self.rate is None:
            return
        quiet = max(self.quiet, (self.bucket.capacity or 0) / (self._refill or math.inf))  # a refill of the bucket
        if now - self._last_header > quiet:
            self.rate = None
            return
        self.rate *= 2 ** min(max(0.0, since_last), self.quiet)
        if self._refill is not None:  # the use is 0.8 at most: at least the rate for 0.8
            self.rate = max(self.rate, self._refill * (1 + self._gain * (self._target - LIMIT_HEADER_FROM)))

    def _reading(self, now: float, use: float) -> None:
        self._last_header = now
        if self.rate is None:
            answered = sum(cost for _, cost in self._answers) / max(0.1, now - self._answers[0][0])
            self.rate = max(self.least_rate, answered / 2)
            self._credit, self._credit_at = -self.burst, now  # what is in flight takes most of what is left
        refill = self.bucket.refill(now, use, self._charged)
        if refill is not None:
            self._refill = refill
            self.rate = max(self.least_rate, refill * (1 + self._gain * (self._target - use)))


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A numeric header (None when absent, unreadable or negative)."""
    try:
        value = float(headers.get(name) or "")
    except ValueError:
        return None
    return value if value >= 0 and math.isfinite(value) else None

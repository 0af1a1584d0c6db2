"""The record of Graph calls received: counts per route template, totals, early requests, and a bounded log."""

from __future__ import annotations

import time
from collections import Counter, deque

from .responses import utc_now

LOG_LIMIT = 10_000
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class CallLog:
    """Counts every Graph request (401s, throttled and faulted ones too); control routes are not recorded.

    An *early* request is one that arrived while a Retry-After of a 429 the emulator had answered was still running
    (from the moment that 429 was answered): a client that honours Retry-After sends none. A request already on its
    way when the 429 went out counts too, since the emulator cannot tell; `early` counts them per route (a $batch
    item under its own route; the envelope is not judged)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.early: Counter[str] = Counter()
        self.retry_until = 0.0
        self.total = 0
        self.writes = 0
        self.throttled = 0
        self.faults = 0
        self.resource_units = 0
        self.log: deque[dict] = deque(maxlen=LOG_LIMIT)

    def record(self, method: str, route: str, path: str, status: int, kind: str | None,
               token: dict | None = None, arrived: float | None = None, retry_after: str | None = None) -> None:
        """Count one answered request; `kind` is "throttled" or "fault" for those answers; `token` is the `aud` and
        `jti` of the identity endpoint's token the request carried (None for any other bearer string); `arrived` is
        when the request came in (time.monotonic; without it the request is never early: the uncharged $batch
        envelope, whose items are judged one by one) and `retry_after` the Retry-After it was answered with."""
        now = time.monotonic()
        early = arrived is not None and arrived < self.retry_until
        wait = _seconds(retry_after) if status == 429 else None
        if wait is not None:
            self.retry_until = max(self.retry_until, now + wait)
        self.counts[f"{method} {route}"] += 1
        self.early[f"{method} {route}"] += early
        self.total += 1
        self.writes += method in WRITE_METHODS
        self.throttled += kind == "throttled"
        self.faults += kind == "fault"
        entry = {"method": method, "route": route, "path": path, "status": status,
                 "at": utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        if kind:
            entry["kind"] = kind
        if early:
            entry["early"] = True
        entry["token"] = token
        self.log.append(entry)

    def to_json(self) -> dict:
        """The body of GET /_emulator/calls."""
        return {"counts": dict(self.counts), "total": self.total, "writes": self.writes,
                "throttled": self.throttled, "faults": self.faults, "resourceUnits": self.resource_units,
                "early": {route: count for route, count in self.early.items() if count},
                "earlyRequests": self.early.total(), "log": list(self.log)}


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After in seconds, whole (`2`) or fractional (`2.128`, as Graph's resource-unit 429s give it)."""
    try:
        value = float((retry_after or "").strip())
    except ValueError:
        return None
    return value if value >= 0 else None

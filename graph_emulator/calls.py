"""The record of Graph calls received: counts per route template, totals, and a bounded log."""

from __future__ import annotations

from collections import Counter, deque

from .responses import utc_now

LOG_LIMIT = 10_000
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class CallLog:
    """Counts every Graph request (401s, throttled and faulted ones too); control routes are not recorded."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.writes = 0
        self.throttled = 0
        self.faults = 0
        self.resource_units = 0
        self.log: deque[dict] = deque(maxlen=LOG_LIMIT)

    def record(self, method: str, route: str, path: str, status: int, kind: str | None,
               token: dict | None = None) -> None:
        """Count one answered request; `kind` is "throttled" or "fault" for those answers; `token` is the `aud` and
        `jti` of the identity endpoint's token the request carried (None for any other bearer string)."""
        self.counts[f"{method} {route}"] += 1
        self.total += 1
        self.writes += method in WRITE_METHODS
        self.throttled += kind == "throttled"
        self.faults += kind == "fault"
        entry = {"method": method, "route": route, "path": path, "status": status,
                 "at": utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        if kind:
            entry["kind"] = kind
        entry["token"] = token
        self.log.append(entry)

    def to_json(self) -> dict:
        """The body of GET /_emulator/calls."""
        return {"counts": dict(self.counts), "total": self.total, "writes": self.writes,
                "throttled": self.throttled, "faults": self.faults, "resourceUnits": self.resource_units,
                "log": list(self.log)}

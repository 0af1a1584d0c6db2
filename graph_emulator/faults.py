"""Trouble on demand: the resource-unit token bucket, random faults, and Graph's resource-unit costs."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from .config import Switches, Throttle
from .errors import GraphError
from .schema import TENANT_ID

THROTTLE_SCOPE = f"Tenant_Application/ReadWrite/{TENANT_ID}/00000003-0000-0000-c000-000000000000"
# Graph's throttling-limits.md, "Identity and access service limits": regular answers carry x-ms-resource-unit and,
# "only when the application consumed more than 0.8 of its limit", x-ms-throttle-limit-percentage ("ranges from 0.8
# to 1.8 and is a percentage of the use of the limit", sent as a fraction such as 0.93); a 429 carries Retry-After,
# x-ms-throttle-scope and x-ms-throttle-information (ResourceUnitLimitExceeded for the resource-unit bucket).
LIMIT_PERCENTAGE_FROM = 0.8
LIMIT_PERCENTAGE_CAP = 1.8
RESOURCE_UNIT_LIMIT = "ResourceUnitLimitExceeded"
_MEMBER_LISTS = frozenset({"/groups/{id}/members", "/groups/{id}/transitiveMembers",
                           "/groups/{id}/transitiveMembers/microsoft.graph.user"})
_FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service unavailable."),
    504: ("GatewayTimeout", "Gateway timeout."),
}


def resource_cost(method: str, route: str, query: Mapping[str, str]) -> int:
    """Resource units Graph charges: GET /users 2, GET group members (direct or transitive) 3, other GET and writes 1;
    `$select` −1, `$top` below 20 −1, minimum 1."""
    cost = 1
    if method == "GET" and route == "/users":
        cost = 2
    elif method == "GET" and route in _MEMBER_LISTS:
        cost = 3
    if "$select" in query:
        cost -= 1
    top = query.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


class TokenBucket:
    """Resource units per window, refilled continuously; a charge may drive the level below zero."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(throttle.capacity)
        self.rate = self.capacity / float(throttle.window_seconds)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def charge(self, cost: int) -> int | None:
        """Take `cost` units. None when there were enough; else whole seconds until there will be (≥ 1)."""
        self._refill()
        enough = self.level >= cost
        self.level -= cost
        if enough:
            return None
        return max(1, math.ceil((cost - self.level) / self.rate))

    def use(self) -> float:
        """The share of the limit in use, as x-ms-throttle-limit-percentage gives it: 1 − level/capacity, at most
        1.8 (the level is below zero once throttled requests have been charged)."""
        return min(LIMIT_PERCENTAGE_CAP, 1 - self.level / self.capacity)

    def limit_percentage(self) -> str | None:
        """The x-ms-throttle-limit-percentage value for an answer charged just now, or None while the use is at
        most 0.8 of the limit (Graph leaves the header out then)."""
        use = self.use()
        return f"{round(use, 3):g}" if use > LIMIT_PERCENTAGE_FROM else None

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now


def throttled(retry_after: int, information: str | None = None) -> GraphError:
    """The 429 Graph answers when a bucket is empty; `information` is its x-ms-throttle-information."""
    headers = {"Retry-After": str(retry_after), "x-ms-throttle-scope": THROTTLE_SCOPE}
    if information:
        headers["x-ms-throttle-information"] = information
    return GraphError(429, "TooManyRequests", "Too many requests.", headers, kind="throttled")


@dataclass
class Fault:
    """An injected failure: its status, whether it replaces the work or follows it, and Retry-After."""

    status: int
    phase: str
    retry_after: int | None

    def error(self) -> GraphError:
        code, message = _FAULT_CODES.get(self.status, ("UnknownError", "Injected fault."))
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return GraphError(self.status, code, message, headers, kind="fault")


class FaultInjector:
    """Draws random faults from a seedable RNG, so a seeded run is reproducible."""

    def __init__(self, seed: int | None) -> None:
        self.rng = random.Random(seed)

    def draw(self, switches: Switches) -> Fault | None:
        """A fault for this request, or None (no randomness is used while faultRate is 0)."""
        if switches.fault_rate <= 0 or self.rng.random() >= switches.fault_rate:
            return None
        status = self.rng.choice(switches.fault_statuses)
        phase = switches.fault_phase
        if phase == "random":
            phase = self.rng.choice(("before", "after"))
        return Fault(status, phase, switches.fault_retry_after)

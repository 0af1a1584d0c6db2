"""Graph's quotas: token buckets per limit, the charge of every request, and the 429 each limit answers.

Sources: concepts/throttling-limits.md, "Identity and access service limits": a token bucket per application+tenant
of resource units (S: 3,500 per 10 s) and a write quota (3,000 per 2 min 30 s), "Only the requests exceeding the
limits will be throttled"; regular answers carry `x-ms-resource-unit` and, "only when the application consumed more
than 0.8 of its limit", `x-ms-throttle-limit-percentage` (0.8 to 1.8); a 429 carries `x-ms-throttle-scope`
"`<Scope>/<Limit>/<ApplicationId>/<TenantId|UserId|ResourceId>`" (e.g. `Tenant_Application/ReadWrite/<app>/<tenant>`;
the application id comes BEFORE the tenant id) and `x-ms-throttle-information` (`ResourceUnitLimitExceeded`,
`WriteLimitExceeded`: diagnostics, not the error code). "Invitation manager service limits": any request on
`/invitations`, 150 per 5 s per tenant for all apps. concepts/throttling.md, "Sample response": 429, code
`TooManyRequests`, message "Please retry again later.", `Retry-After: 2.128` (fractional seconds); "Microsoft Graph
continues to log resource usage while a client is being throttled", so a throttled request is charged too.

Where the pages are silent the emulator picks the stricter reading: the write quota and the resource-unit 429s give a
fractional Retry-After; the invitation manager's 429 (a service outside identity and access) gives whole seconds
and no `x-ms-throttle-*` headers; a POST /invitations also counts against the write quota (it creates a user)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .config import Switches, Throttle
from .costs import resource_cost, write_cost
from .errors import GraphError
from .schema import TENANT_ID

# The application id of a caller whose token names none the emulator can read (any bearer string without strictAuth).
EMULATED_APPLICATION_ID = "5b1f0c4e-2d7a-4f3b-9c61-8e0a7d2f4b19"
RESOURCE_UNIT_LIMIT = "ResourceUnitLimitExceeded"
WRITE_LIMIT = "WriteLimitExceeded"
LIMIT_PERCENTAGE_FROM = 0.8
LIMIT_PERCENTAGE_CAP = 1.8
INVITATIONS_ROUTE = "/invitations"


class TokenBucket:
    """Units per window, refilled continuously; a charge may drive the level below zero."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(throttle.capacity)
        self.rate = self.capacity / float(throttle.window_seconds)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def charge(self, cost: float) -> float | None:
        """Take `cost` units. None when there were enough; else the seconds until there will be (> 0)."""
        self._refill()
        enough = self.level >= cost
        self.level -= cost
        if enough:
            return None
        return (cost - self.level) / self.rate

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


def fractional_seconds(seconds: float) -> str:
    """A Retry-After in Graph's fractional form, rounded up to the millisecond: `2.128`."""
    return f"{max(1, math.ceil(seconds * 1000)) / 1000:.3f}"


def whole_seconds(seconds: float) -> str:
    """A Retry-After in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def throttle_scope(scope: str, limit: str, application_id: str) -> str:
    """`<Scope>/<Limit>/<ApplicationId>/<TenantId>` (throttling-limits.md)."""
    return f"{scope}/{limit}/{application_id}/{TENANT_ID}"


def throttled(retry_after: str, scope: str | None = None, information: str | None = None) -> GraphError:
    """The 429 Graph answers when a limit is spent."""
    headers = {"Retry-After": retry_after}
    if scope:
        headers["x-ms-throttle-scope"] = scope
    if information:
        headers["x-ms-throttle-information"] = information
    return GraphError(429, "TooManyRequests", "Please retry again later.", headers, kind="throttled")


class Quotas:
    """One bucket per limit: resource units, writes, invitations (per tenant), and the reports throttle."""

    def __init__(self, switches: Switches) -> None:
        self.resource_units = TokenBucket(switches.throttle)
        self.writes = TokenBucket(switches.write_throttle)
        self.invitations = TokenBucket(switches.invitation_throttle)
        self.sign_ins = TokenBucket(switches.sign_in_throttle)

    def reconfigure(self, old: Switches, new: Switches) -> None:
        """Restart the buckets whose settings changed (a restarted bucket is full)."""
        if new.throttle != old.throttle:
            self.resource_units = TokenBucket(new.throttle)
        if new.write_throttle != old.write_throttle:
            self.writes = TokenBucket(new.write_throttle)
        if new.invitation_throttle != old.invitation_throttle:
            self.invitations = TokenBucket(new.invitation_throttle)
        if new.sign_in_throttle != old.sign_in_throttle:
            self.sign_ins = TokenBucket(new.sign_in_throttle)


@dataclass
class Charge:
    """What a request was charged: its resource units and the limit percentage to report (None: leave it out)."""

    resource_units: int
    limit_percentage: str | None


def charge_request(quotas: Quotas, switches: Switches, method: str, route: str, query: Mapping[str, str],
                   application_id: str) -> Charge:
    """Charge one request against every enabled limit it falls under (all of them, even when one is spent);
    raise the 429 of the spent limit with the longest wait."""
    units = resource_cost(method, route, query)
    refusals: list[tuple[float, GraphError]] = []
    if switches.throttle.enabled:
        wait = quotas.resource_units.charge(units)
        if wait is not None:
            scope = throttle_scope("Tenant_Application", "ReadWrite", application_id)
            refusals.append((wait, throttled(fractional_seconds(wait), scope, RESOURCE_UNIT_LIMIT)))
    writes = write_cost(method)
    if writes and switches.write_throttle.enabled:
        wait = quotas.writes.charge(writes)
        if wait is not None:
            scope = throttle_scope("Tenant_Application", "Write", application_id)
            refusals.append((wait, throttled(fractional_seconds(wait), scope, WRITE_LIMIT)))
    if route == INVITATIONS_ROUTE and switches.invitation_throttle.enabled:
        wait = quotas.invitations.charge(1)
        if wait is not None:
            refusals.append((wait, throttled(whole_seconds(wait))))
    if refusals:
        raise max(refusals, key=lambda refusal: refusal[0])[1]
    percentage = quotas.resource_units.limit_percentage() if switches.throttle.enabled else None
    return Charge(units, percentage)

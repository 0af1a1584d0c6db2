"""Random faults on demand: a seedable draw of injected 5xx/429 answers, before or after the work.

The quota buckets live in `quotas` and the request costs in `costs`; `TokenBucket` and `resource_cost` are still
importable from here for older callers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import Switches
from .costs import resource_cost
from .errors import GraphError
from .quotas import TokenBucket

__all__ = ["Fault", "FaultInjector", "TokenBucket", "resource_cost"]

_FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service unavailable."),
    504: ("GatewayTimeout", "Gateway timeout."),
}


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

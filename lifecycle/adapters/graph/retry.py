"""The one retry policy for Graph calls, and the waits tenacity takes from it (Graph's Retry-After, else
exponential backoff; a wait longer than the policy allows gives up at once)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GraphRetryPolicy:
    """The one retry policy for Graph calls (the SDK's retry handler is switched off: it would sleep up to 180 s
    per retry). 429/503/504 and transport errors are retried honouring Retry-After; a wait longer than
    `max_wait`, or past the budget, gives up at once so the caller gets 503 with Retry-After."""

    attempts: int = 6
    budget_seconds: float = 30.0
    min_wait: float = 0.5
    max_wait: float = 30.0


def wait_for(state: Any, policy: GraphRetryPolicy) -> float:
    """Graph's Retry-After when it gave one, else exponential backoff."""
    error = state.outcome.exception() if state.outcome else None
    hinted = float(getattr(error, "retry_after", None) or 0)
    backoff = policy.min_wait * (2 ** (state.attempt_number - 1))
    return min(hinted or backoff, policy.max_wait)


def give_up_if_too_long(policy: GraphRetryPolicy) -> Callable[[Any], None]:
    def check(state: Any) -> None:
        error = state.outcome.exception() if state.outcome else None
        if error is not None and (getattr(error, "retry_after", 0) or 0) > policy.max_wait:
            raise error
    return check

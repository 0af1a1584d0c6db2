"""Run-time switches of the emulator: validation, defaults, and the camelCase JSON form the control API uses."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

# What a reference write naming a not-yet-replicated object answers: the 400 group-post-members documents ("The source
# resource object or one of the objects being referenced don't exist."; default), the 400 "Not a valid reference
# update." that is publicly reported, or a 404.
LAG_REFERENCE_ERRORS = ("missingObjects", "badReference", "notFound")
FAULT_PHASES = ("before", "after", "random")
DEFAULT_TENANT_DOMAINS = ("contoso.onmicrosoft.com", "contoso.com")
# What the tenant answers for signInActivity: real values, 403 for want of Entra ID P1 (user-list.md; the 403 as
# reported in microsoftgraph/microsoft-graph-docs-contrib#3033), 403 for an app without AuditLog.Read.All, or every
# value null (what some tools report).
SIGN_IN_MODES = ("available", "unlicensed", "noPermission", "empty")
# The throttle switches (each a `Throttle`, merged field by field on PATCH).
THROTTLE_SWITCHES = ("throttle", "write_throttle", "invitation_throttle", "sign_in_throttle")


class ConfigError(ValueError):
    """A switch name or value the emulator does not accept."""


@dataclass
class Throttle:
    """A token bucket: `capacity` units per `window_seconds`, refilled continuously. The default is Graph's
    resource-unit quota of an application+tenant pair in the smallest tenant size (S: 3,500 per 10 s;
    throttling-limits.md, "Identity and access service limits"), on."""

    enabled: bool = True
    capacity: float = 3500
    window_seconds: float = 10


@dataclass
class Switches:
    """Every switch; the control API shows and patches them under their camelCase names."""

    replication_lag: int = 0
    lag_reference_error: str = "missingObjects"
    fault_rate: float = 0.0
    fault_statuses: list[int] = field(default_factory=lambda: [429, 503, 504])
    fault_retry_after: int | None = 1
    fault_phase: str = "before"
    seed: int | None = None
    # Graph's quotas, all on by default at Graph's sizes (throttling-limits.md): resource units per application+tenant
    # (S: 3,500 per 10 s), writes per application+tenant (3,000 per 2 min 30 s), and requests on /invitations per
    # tenant for all apps (invitation manager: 150 per 5 s).
    throttle: Throttle = field(default_factory=Throttle)
    write_throttle: Throttle = field(default_factory=lambda: Throttle(capacity=3000, window_seconds=150))
    invitation_throttle: Throttle = field(default_factory=lambda: Throttle(capacity=150, window_seconds=5))
    latency_ms: float = 0
    tenant_domains: list[str] = field(default_factory=lambda: list(DEFAULT_TENANT_DOMAINS))
    # External collaboration settings, "Collaboration restrictions": a deny list, or an allow list (null: any domain).
    # Entra takes one or the other, never both. Nothing is refused by default.
    blocked_invitation_domains: list[str] = field(default_factory=list)
    allowed_invitation_domains: list[str] | None = None
    sign_in_activity: str = "available"
    # The reports throttle every signInActivity read also counts against: about 5 requests per 10 s per app and
    # tenant (Graph concepts/throttling-limits.md, identity and access reports service limits).
    # Off by default: the page's list of reports resources does not name the user's signInActivity.
    sign_in_throttle: Throttle = field(default_factory=lambda: Throttle(enabled=False, capacity=5, window_seconds=10))
    strict_auth: bool = False

    @classmethod
    def build(cls, **overrides: Any) -> Switches:
        """Defaults with `overrides` applied; names may be camelCase or snake_case."""
        return cls().updated(overrides)

    def updated(self, patch: dict[str, Any]) -> Switches:
        """A copy with a partial update applied (a partial `throttle` merges); ConfigError when invalid."""
        result = copy.deepcopy(self)
        for name, value in patch.items():
            key = to_snake(name)
            if key in THROTTLE_SWITCHES:
                setattr(result, key, _updated_throttle(getattr(result, key), value))
            elif key in _CHECKS:
                setattr(result, key, _CHECKS[key](name, value))
            else:
                raise ConfigError(f"unknown switch '{name}'")
        if result.blocked_invitation_domains and result.allowed_invitation_domains is not None:
            raise ConfigError("blockedInvitationDomains and allowedInvitationDomains exclude each other (Entra's "
                              "collaboration restrictions are a deny list or an allow list)")
        return result

    def to_json(self) -> dict[str, Any]:
        """The camelCase form, as GET /_emulator/config returns it."""
        return _camel_dict(self)


def to_snake(name: str) -> str:
    """`replicationLag` → `replication_lag` (snake_case passes through)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def to_camel(name: str) -> str:
    """`replication_lag` → `replicationLag`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_dict(obj: Any) -> dict[str, Any]:
    out = {}
    for item in fields(obj):
        value = getattr(obj, item.name)
        out[to_camel(item.name)] = _camel_dict(value) if isinstance(value, Throttle) else copy.deepcopy(value)
    return out


def _updated_throttle(current: Throttle, value: Any) -> Throttle:
    if isinstance(value, Throttle):
        value = {item.name: getattr(value, item.name) for item in fields(value)}
    if not isinstance(value, dict):
        raise ConfigError("throttle must be an object")
    result = copy.deepcopy(current)
    for name, item in value.items():
        key = to_snake(name)
        if key not in _THROTTLE_CHECKS:
            raise ConfigError(f"unknown throttle setting '{name}'")
        setattr(result, key, _THROTTLE_CHECKS[key](name, item))
    return result


def _int_at_least(minimum: int, nullable: bool = False) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}")
        return value
    return check


def _number(low: float, high: float | None = None, strict_low: bool = False) -> Callable[[str, Any], float]:
    bounds = f"{'>' if strict_low else '>='} {low}" + ("" if high is None else f" and <= {high}")

    def check(name: str, value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (value > low if strict_low else value >= low) and (high is None or value <= high)
        if not ok:
            raise ConfigError(f"{name} must be a number {bounds}")
        return value
    return check


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(f"{name} must be one of {', '.join(options)}")
        return value
    return check


def _statuses(name: str, value: Any) -> list[int]:
    valid = isinstance(value, list) and value and all(
        isinstance(item, int) and not isinstance(item, bool) and 400 <= item <= 599 for item in value)
    if not valid:
        raise ConfigError(f"{name} must be a non-empty list of HTTP error statuses (400-599)")
    return list(value)


def _domains(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"{name} must be a non-empty list of domain names")
    return [item.lower() for item in value]


def _domain_list(nullable: bool) -> Callable[[str, Any], list[str] | None]:
    def check(name: str, value: Any) -> list[str] | None:
        if value is None and nullable:
            return None
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise ConfigError(f"{name} must be a list of domain names" + (" or null" if nullable else ""))
        return [item.strip().lower() for item in value]
    return check


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "replication_lag": _int_at_least(0),
    "lag_reference_error": _choice(LAG_REFERENCE_ERRORS),
    "fault_rate": _number(0, 1),
    "fault_statuses": _statuses,
    "fault_retry_after": _int_at_least(0, nullable=True),
    "fault_phase": _choice(FAULT_PHASES),
    "seed": _int_at_least(-(2**63), nullable=True),
    "latency_ms": _number(0),
    "tenant_domains": _domains,
    "blocked_invitation_domains": _domain_list(nullable=False),
    "allowed_invitation_domains": _domain_list(nullable=True),
    "sign_in_activity": _choice(SIGN_IN_MODES),
    "strict_auth": _boolean,
}

_THROTTLE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "enabled": _boolean,
    "capacity": _number(0, strict_low=True),
    "window_seconds": _number(0, strict_low=True),
}

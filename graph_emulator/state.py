"""The emulator's whole state: switches, directory, call log, quota buckets and fault RNG."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from .calls import CallLog
from .config import Switches, to_snake
from .faults import FaultInjector
from .quotas import Quotas
from .store import Directory, GroupRecord, blank_group

_GROUP_NAMESPACE = uuid.UUID("6d1c2f7e-4b2a-4e53-9a0e-5f1f3c0b7a11")


def seed_group_ids(count: int) -> list[str]:
    """Deterministic GUIDs for `count` start-up groups (the same on every run)."""
    return [str(uuid.uuid5(_GROUP_NAMESPACE, f"group-{n}")) for n in range(1, count + 1)]


class Emulator:
    """Holds everything one emulator instance knows. `reset()` returns to the state it was started with."""

    def __init__(self, switches: Switches | None = None, groups: Iterable[str] = ()) -> None:
        self.initial_switches = switches or Switches()
        self.start_groups = [group_id.lower() for group_id in groups]
        self.reset()

    def reset(self) -> None:
        """Clear users, groups, deletions and counters; switches back to their start values."""
        self.switches = self.initial_switches.updated({})
        self.directory = Directory()
        self.calls = CallLog()
        self.faults = FaultInjector(self.switches.seed)
        self.quotas = Quotas(self.switches)
        for number, group_id in enumerate(self.start_groups, start=1):
            props = blank_group(group_id)
            props.update(displayName=f"Emulator group {number}", mailNickname=f"emulator-group-{number}")
            self.directory.add_group(GroupRecord(props))

    def configure(self, patch: dict[str, Any]) -> Switches:
        """Apply a partial switch update (ConfigError when invalid); a new seed or throttle setting restarts those."""
        updated = self.switches.updated(patch)
        if any(to_snake(name) == "seed" for name in patch):
            self.faults = FaultInjector(updated.seed)
        self.quotas.reconfigure(self.switches, updated)
        self.switches = updated
        return updated

    @property
    def default_domain(self) -> str:
        """The tenant's default domain: the first verified domain (used in guest UPNs)."""
        return self.switches.tenant_domains[0]

    def reset_calls(self) -> None:
        """Zero the call counters and log (state and switches stay)."""
        self.calls = CallLog()

"""Start the Graph emulator in-process for `python -m lifecycle serve --emulate-graph`, with the managed groups."""
from __future__ import annotations

import os
import uuid
from typing import Any

import httpx


def demo_group_ids() -> list[str]:
    """MANAGED_GROUP_IDS, or two fixed demo groups (which are then put into MANAGED_GROUP_IDS)."""
    groups = [g.strip() for g in os.environ.get("MANAGED_GROUP_IDS", "").split(",") if g.strip()]
    if not groups:
        groups = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"guest-lifecycle/demo-group/{n}")) for n in (1, 2)]
        os.environ["MANAGED_GROUP_IDS"] = ",".join(groups)
    return groups


def start_emulator(port: int) -> Any:
    """A running emulator seeded with the managed groups; GRAPH_BASE_URL points the app at it."""
    from graph_emulator.server import EmulatorServer

    groups = demo_group_ids()
    server = EmulatorServer(port=port)
    server.start()
    for number, group_id in enumerate(groups, 1):
        httpx.post(f"{server.url}/_emulator/groups", json={"id": group_id, "displayName": f"Managed group {number}"})
    os.environ["GRAPH_BASE_URL"] = server.graph_url
    return server

"""The application factory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette

from .config import ConfigError, Switches, to_snake
from .identity import IdentityIssuer, identity_routes
from .responses import is_guid
from .routes_control import control_routes
from .routes_graph import graph_routes
from .state import Emulator, seed_group_ids


def create_app(*, groups: Iterable[str] = (), seed_groups: int = 0, identity: IdentityIssuer | None = None,
               **switches: Any) -> Starlette:
    """A Starlette app serving Graph v1.0 under /v1.0 and the control API under /_emulator.

    `switches` are the run-time switches (camelCase or snake_case names; see `Switches`). `groups` are group ids
    and `seed_groups` a number of groups with deterministic ids to create at start (and again on every reset).
    The state is at `app.state.emulator` (an `Emulator`). The app also serves the managed-identity endpoint of
    `identity` (a new `IdentityIssuer` when None) at /msi/token; it is at `app.state.identity`."""
    options = {to_snake(name): value for name, value in switches.items()}
    seed_groups = options.pop("seed_groups", seed_groups)
    group_ids = [*groups, *options.pop("groups", []), *seed_group_ids(seed_groups)]
    if not all(isinstance(group_id, str) and is_guid(group_id) for group_id in group_ids):
        raise ConfigError(f"group ids must be GUIDs: {group_ids}")
    emulator = Emulator(Switches.build(**options), group_ids)
    identity = identity or IdentityIssuer()
    app = Starlette(routes=[*identity_routes(identity), *control_routes(), *graph_routes()])
    app.state.emulator = emulator
    app.state.identity = identity
    return app

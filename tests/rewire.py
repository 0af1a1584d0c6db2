"""For functional tests that need other settings than the `fakes` fixture's: the same fakes, the services rebuilt
on settings with some values changed, and installed where the HTTP functions find them."""
from __future__ import annotations

from typing import Any

from lifecycle.config import Settings, Tuning
from lifecycle.wiring import Services, build_services, container
from tests.support import GROUP_A, GROUP_B

BASE = {"MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}", "GRAPH_BASE_URL": "http://127.0.0.1:9",
        "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def with_settings(fakes: Any, **env: str) -> Services:
    """Rebuild `fakes.services` on the fixture's settings with `env` on top (the fakes' state is kept)."""
    settings = Settings.from_env({**BASE, **env})
    services = build_services(settings, store=fakes.store, directory=fakes.directory, audit=fakes.audit,
                              publisher=fakes.publisher, idempotency_store=fakes.keys, clock=fakes.clock,
                              runs=fakes.runs,
                              tuning=Tuning(lag_retry_seconds=0.3, lag_first_delay=0.05, claim_wait_seconds=0.5))
    container.use(lambda: services)
    fakes.settings, fakes.services = settings, services
    return services

"""The sponsor page in a real browser: Debian's Chromium driven by Playwright, against `python -m lifecycle serve` in
Entra mode (its emulated App Service authentication), Azurite and the Graph emulator.

Chromium is a system package (`make test` installs it with apt when /usr/bin/chromium is missing); Playwright's
own browser download is never used. Without Chromium these tests fail, they never skip. Screenshots go to
test-artifacts/browser/ (git-ignored)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifecycle.config import Settings
from lifecycle.wiring import Services, build_services
from tests.served import served, signed_in
from tests.support import GROUP_A, GROUP_B, ROOT, app_environment

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ROLES = "ada@contoso.com=Guests.Admin"


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    people: dict[str, str]
    guests: dict[str, str]
    emulator: Any

    def read(self, work: Any) -> Any:
        """`work(services)` on services of the same storage and Graph, for looking at what the page did."""

        async def run() -> Any:
            services: Services = build_services(Settings.from_env(self.env))
            try:
                return await work(services)
            finally:
                await services.close()

        with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
            return thread.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def stack(azurite: Any, emulator_server: Any) -> Iterator[Stack]:
    """Members Ada (Guests.Admin), Sam and Kim (sponsors) in the emulated tenant; four guests invited by Ada: Ann and
    Bob sponsored by Sam, Cleo by Kim, Dan by both; the development server in Entra mode."""
    control = emulator_server.control
    control.reset()
    for group_id, name in ((GROUP_A, "Project Falcon"), (GROUP_B, "Partner portal")):
        control.seed_group(id=group_id, displayName=name)
    people = {name: control.seed_user(mail=f"{name}@contoso.com", userType="Member",
                                      displayName=name.capitalize())["id"] for name in ("ada", "sam", "kim")}
    env = {**app_environment(azurite.connection_string, control.graph_url), "LIFECYCLE_HTTP_AUTH": "entra",
           "DEVSERVER_APP_ROLES": ROLES}
    guests = {}
    with served(env) as url:
        with signed_in(url, "ada@contoso.com") as ada:
            for key, name, sponsors, groups, days in (
                    ("ann", "Ann Archer", ["sam"], [GROUP_A], 12),
                    ("bob", "Bob Baker", ["sam"], [GROUP_A, GROUP_B], 75),
                    ("cleo", "Cleo Clark", ["kim"], [GROUP_B], 40), ("dan", "Dan Dunn", ["sam", "kim"], [], 200)):
                answer = ada.post("/api/guests", json={
                    "email": f"{key}@fabrikam.com", "displayName": name, "groups": groups, "expiresInDays": days,
                    "sponsors": [people[sponsor] for sponsor in sponsors]})
                assert answer.status_code in (201, 202), answer.text
                guests[key] = answer.json()["id"]
        yield Stack(url, env, people, guests, control)
    control.reset()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test` (it installs Debian's chromium) or "
                    "`apt-get install -y chromium`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

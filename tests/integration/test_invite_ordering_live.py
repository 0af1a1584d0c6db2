"""The orderings an invite relies on (Azurite, the Graph emulator over HTTP): the email's claim is written before any
Graph call, the lookup included (a request that waited for the claim looks up only once it holds it); the record's
create overlaps the group adds, and a crash during the adds is finished from the claim's command."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from graph_emulator import EmulatorControl
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.ports import Event, GuestStore
from lifecycle.wiring import Services, build_services, container
from tests.api_client import api
from tests.builders import unlinked_claim
from tests.conftest import FAST
from tests.support import GROUP_A, GROUP_B

pytestmark = pytest.mark.azurite
LOOKUP, ADD = "GET /users", "POST /groups/{id}/members/$ref"
SETTLE = 0.3


class Crash(BaseException):
    """Stands for the process dying (not an error the request could catch)."""


class WatchedStore:
    """The real Table store, counting the reads of claims and records. `claim_email` first notes the Graph calls
    the emulator received during the invite (after `SETTLE` seconds, time enough for a call sent alongside to
    arrive); `create` first waits (up to 3 s) for the emulator to have received `adds_before_create` group adds and
    notes whether they came. `crash_on_create` makes the first create die after that wait."""

    def __init__(self, store: GuestStore, emulator: EmulatorControl, adds_before_create: int = 0,
                 crash_on_create: bool = False) -> None:
        self._store, self._emulator = store, emulator
        self._adds_before_create, self._crash = adds_before_create, crash_on_create
        self.reads = {"get_claim": 0, "get": 0}
        self.adds_before_record = False
        self.graph_calls_before_claim: list[int] = []
        self._calls_before = len(emulator.calls()["log"])

    async def get_claim(self, email: str) -> EmailClaim | None:
        self.reads["get_claim"] += 1
        return await self._store.get_claim(email)

    async def get(self, guest_id: str) -> Guest | None:
        self.reads["get"] += 1
        return await self._store.get(guest_id)

    async def claim_email(self, claim: EmailClaim) -> EmailClaim:
        await asyncio.sleep(SETTLE)
        self.graph_calls_before_claim.append(len(self._emulator.calls()["log"]) - self._calls_before)
        return await self._store.claim_email(claim)

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        self.adds_before_record = await self._received(ADD, self._adds_before_create)
        if self._crash:
            self._crash = False
            raise Crash()
        return await self._store.create(guest, claim, events)

    async def _received(self, route: str, count: int) -> bool:
        deadline = asyncio.get_running_loop().time() + 3
        while self._emulator.count(route) < count:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def watched(live: Services, emulator: EmulatorControl) -> AsyncIterator[Any]:
    opened: list[Services] = []

    def install(**options: Any) -> tuple[Services, WatchedStore]:
        store = WatchedStore(live.records.store, emulator, **options)
        services = build_services(live.settings, store=store, tuning=FAST)  # type: ignore[arg-type]
        container.use(lambda: services)
        opened.append(services)
        return services, store

    yield install
    for services in opened:
        await services.close()
    container.use(lambda: live)


async def test_a_new_email_is_claimed_without_a_read_before_any_graph_call(watched, emulator):
    _, store = watched()
    status, body, _ = await api.send_invite({"email": "quick@fabrikam.com"})
    assert status == 201, body
    assert store.graph_calls_before_claim == [0] and store.reads["get_claim"] == 0  # not even the lookup
    assert emulator.count("POST /invitations") == 1 and emulator.count(LOOKUP) == 1


async def test_an_email_claimed_already_is_read_and_its_guest_adopted(watched, emulator):
    await api.send_invite({"email": "twice@fabrikam.com"})
    _, store = watched()
    status, body, _ = await api.send_invite({"email": "twice@fabrikam.com", "groups": [GROUP_A]})
    assert status == 200 and body["groups"] == [GROUP_A]
    assert store.reads["get_claim"] == 1 and emulator.count("POST /invitations") == 1


async def test_the_record_is_created_while_the_groups_are_added_and_then_records_them(watched, emulator):
    services, store = watched(adds_before_create=2)
    status, body, _ = await api.send_invite({"email": "both@fabrikam.com", "groups": [GROUP_A, GROUP_B],
                                    "attributes": {"department": "Sales"}})
    assert status == 201, body
    assert store.adds_before_record  # both adds reached Graph before the record was created
    assert store.reads["get"] == 0  # the final write went with the create's ETag, nothing re-read
    stored = await services.records.store.get(body["id"])
    assert sorted(stored.groups) == sorted([GROUP_A, GROUP_B]) and not stored.pending_groups
    assert stored.attributes == {"department": "Sales"} and not stored.pending_attributes
    assert emulator.user(body["id"])["department"] == "Sales"


async def test_a_crash_while_the_groups_are_added_is_finished_by_the_next_request(watched, live, emulator):
    _, store = watched(adds_before_create=1, crash_on_create=True)
    with pytest.raises(Crash):
        await api.send_invite({"email": "crash@fabrikam.com", "groups": [GROUP_A], "displayName": "Cara"})
    [user] = emulator.users(mail="crash@fabrikam.com")
    assert store.adds_before_record and emulator.group_members(GROUP_A) == [user["id"]]
    claim = await live.records.store.get_claim("crash@fabrikam.com")
    assert claim is not None and not claim.is_linked  # the claim is the only record of the invite and its adds

    services = build_services(live.settings, tuning=replace(FAST, claim_stale_seconds=0))  # the claim is stale now
    container.use(lambda: services)
    try:
        status, body, _ = await api.send_invite({"email": "crash@fabrikam.com", "groups": [GROUP_B]})
    finally:
        await services.close()
    assert status == 200 and body["id"] == user["id"], body
    stored = await live.records.store.get(user["id"])
    assert sorted(stored.groups) == sorted([GROUP_A, GROUP_B]) and not stored.pending_groups
    assert stored.display_name == "Cara"  # the crashed request's command, kept from its claim
    assert emulator.count("POST /invitations") == 1 and emulator.group_members(GROUP_B) == [user["id"]]


async def test_a_request_that_waited_for_the_claim_looks_the_email_up_only_once_it_holds_it(watched, live, emulator):
    email = "waited@fabrikam.com"
    other = await live.records.store.claim_email(unlinked_claim(email, owner="other"))
    _, store = watched()
    waiting = asyncio.create_task(api.send_invite({"email": email}))
    while not store.reads["get_claim"]:  # the claim was refused: the request now waits for it
        await asyncio.sleep(0.02)
    await asyncio.sleep(SETTLE)
    assert store.graph_calls_before_claim == [0] and emulator.count(LOOKUP) == 0 and not waiting.done()
    # meanwhile the user appears in Graph (invited while the claim was held), and the claim is let go
    user = emulator.seed_user(displayName="Won", mail=email, userType="Guest", externalUserState="PendingAcceptance")
    await live.records.store.release_claim(other)

    status, body, _ = await asyncio.wait_for(waiting, 10)
    assert status == 200 and body["id"] == user["id"], body
    assert emulator.count("POST /invitations") == 0 and emulator.count(LOOKUP) == 1
    assert store.graph_calls_before_claim == [0, 0]  # refused at once, then claimed once released: no call before

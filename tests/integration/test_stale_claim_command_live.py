"""The sweep finishing an invitation whose request died after Graph created the user keeps everything the caller asked
for, also when the expiry it asked for has passed since (Azurite, the Graph emulator over HTTP)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.domain.commands import InviteGuest
from lifecycle.domain.model import EmailClaim, Guest
from lifecycle.errors import StorageUnavailable
from lifecycle.ports import Event, GuestStore
from lifecycle.wiring import Services, build_services, container
from tests.api_client import call
from tests.conftest import FAST
from tests.support import GROUP_A

pytestmark = pytest.mark.azurite


class FirstCreateFails:
    """The real Table store, except that the first `create` fails as if storage went down (after Graph invited)."""

    def __init__(self, store: GuestStore) -> None:
        self._store = store
        self.failed = False

    async def create(self, guest: Guest, claim: EmailClaim | None, events: Sequence[Event] = ()) -> Guest:
        if not self.failed:
            self.failed = True
            raise StorageUnavailable("create guest: storage is unreachable", retry_after=5)
        return await self._store.create(guest, claim, events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def first_create_fails(live: Services) -> AsyncIterator[Services]:
    services = build_services(live.settings, store=FirstCreateFails(live.records.store),  # type: ignore[arg-type]
                              tuning=FAST)
    container.use(lambda: services)
    yield services
    await services.close()


async def test_sweep_keeps_name_sponsors_and_attributes_of_a_stale_claim_whose_expiry_passed(
        first_create_fails, emulator):
    services = first_create_fails
    sponsor = emulator.seed_user(displayName="Sam", mail="sam@contoso.com", userType="Member")["id"]
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    status, body, _ = await call("invite_guest", "POST", "guests", {
        "email": "late@fabrikam.com", "displayName": "Late Lee", "sponsors": [sponsor], "groups": [GROUP_A],
        "attributes": {"companyName": "Fabrikam", "department": "Sales"}, "expiresAt": expires_at.isoformat()})
    assert status == 503, body
    invited = emulator.users(mail="late@fabrikam.com")
    assert len(invited) == 1  # Graph created the user; the record was never written
    left = await services.records.store.get_claim("late@fabrikam.com")  # abandoned: stale at once, never released
    assert left is not None and not left.is_linked and left.is_stale(datetime.now(UTC), timedelta(days=365))
    while datetime.now(UTC) <= expires_at:
        await asyncio.sleep(0.1)

    report = await services.expiry.run()

    assert report.repaired.get("claim adopted") == 1, report
    guest = await services.records.store.get(invited[0]["id"])
    assert guest is not None and guest.display_name == "Late Lee" and guest.sponsors == (sponsor,)
    assert guest.attributes == {"companyName": "Fabrikam", "department": "Sales"} and not guest.pending_attributes
    assert guest.groups == (GROUP_A,) and abs(guest.expires_at - expires_at) < timedelta(milliseconds=1)
    assert emulator.user(guest.id)["department"] == "Sales"


def test_a_claim_written_before_commands_existed_is_read_as_it_was_meant():
    claimed_at = datetime(2026, 1, 1, tzinfo=UTC)
    old_body = {"email": "old@fabrikam.com", "displayName": "Old", "sendInvitationMessage": False,
                "ccRecipients": [], "groups": [GROUP_A], "sponsors": ["6f1c1ef7-2b1e-4a3c-9d51-0000000000aa"],
                "expiresAt": "2026-01-02T00:00:00Z", "attributes": {"jobTitle": "Buyer"}}
    command = InviteGuest.from_stored(old_body, email="old@fabrikam.com", claimed_at=claimed_at, default_ttl_days=90)
    assert command.display_name == "Old" and command.group_ids == (GROUP_A,) and command.expiry_chosen
    assert command.expires_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert command.attribute_values == {"jobTitle": "Buyer"}
    in_days = InviteGuest.from_stored({"email": "d@fabrikam.com", "expiresInDays": 3}, email="d@fabrikam.com",
                                      claimed_at=claimed_at, default_ttl_days=90)
    assert in_days.expires_at == claimed_at + timedelta(days=3)
    default = InviteGuest.from_stored({"email": "e@fabrikam.com"}, email="e@fabrikam.com", claimed_at=claimed_at,
                                      default_ttl_days=90)
    assert default.expires_at == claimed_at + timedelta(days=90) and not default.expiry_chosen


def test_a_stored_command_reads_back_equal():
    command = InviteGuest(email="n@fabrikam.com", expires_at=datetime(2026, 5, 1, tzinfo=UTC),
                          expiry_chosen=True, display_name="N", sponsors=("s",), group_ids=(GROUP_A,),
                          cc_recipients=("c@fabrikam.com",), attributes=(("companyName", "F"),), message="hi")
    assert InviteGuest.from_stored(command.to_stored(), email="x", claimed_at=datetime.now(UTC),
                                   default_ttl_days=1) == command

"""Attestation and sponsor presence in the sweep on Azurite and the Graph emulator (msgraph-sdk over HTTP): the
guests are disabled, then deleted after the grace; an excluded guest is never touched; a sponsor disabled in the
directory stops counting."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lifecycle.domain.model import GuestState
from tests.api_client import api

pytestmark = pytest.mark.azurite
DAY = timedelta(days=1)


async def test_a_guest_whose_sponsor_is_disabled_is_announced_disabled_then_deleted(app, emulator):
    live = app(MIN_SPONSORS="1", EXPIRY_GRACE_DAYS="30", INVITE_REDEEM_DAYS="0")
    boss = emulator.seed_user(mail="boss@contoso.example", userType="Member")["id"]
    keeper = emulator.seed_user(mail="keeper@contoso.example", userType="Member")["id"]
    orphan = await api.invite_id("orphan@fabrikam.com", expiresInDays=900, sponsors=[boss])
    kept = await api.invite_id("kept@fabrikam.com", expiresInDays=900, sponsors=[keeper])
    emulator.update_user(boss, accountEnabled=False)  # the sponsor leaves: blocked in the directory
    live.clock.offset = DAY
    report = await live.expiry.run()
    assert report.done == {"notify": 1} and not report.failures, report
    live.clock.offset = 31 * DAY
    assert (await live.expiry.run()).done == {"disable": 1}
    assert emulator.user(orphan)["accountEnabled"] is False and emulator.user(kept)["accountEnabled"] is True
    live.clock.offset = 62 * DAY
    assert (await live.expiry.run()).done == {"delete": 1}
    assert (await live.records.store.get(orphan)).state is GuestState.DELETED
    assert (await live.records.store.get(kept)).is_live


async def test_an_unattested_guest_is_disabled_then_deleted_and_an_excluded_one_is_never_touched(app, emulator):
    excluded_group = emulator.seed_group(displayName="Keep")["id"]
    live = app(ATTESTATION_DAYS="30", EXPIRY_GRACE_DAYS="10", INVITE_REDEEM_DAYS="0",
               EXPIRY_EXCLUDED_GROUP_IDS=excluded_group)
    boss = emulator.seed_user(mail="boss@contoso.example", userType="Member")["id"]
    due = await api.invite_id("due@fabrikam.com", expiresInDays=900, sponsors=[boss])
    protected = await api.invite_id("protected@fabrikam.com", expiresInDays=900, sponsors=[boss])
    emulator.add_members(excluded_group, [protected])
    live.clock.offset = 31 * DAY
    report = await live.expiry.run()
    assert report.done.get("disable") == 1 and [e["guestId"] for e in report.excluded] == [protected], report
    assert (await live.records.store.get(due)).disabled_reason == "unattested"
    live.clock.offset = 42 * DAY
    assert (await live.expiry.run()).done.get("delete") == 1
    assert emulator.user(due)["deleted"] is True and emulator.user(protected)["accountEnabled"] is True

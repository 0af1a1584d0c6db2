"""The sweep's attestation (ATTESTATION_DAYS) and sponsor presence (MIN_SPONSORS) rules on in-memory fakes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.memory import (
    InMemoryAuditLog,
    InMemoryDirectory,
    InMemoryEventPublisher,
    InMemoryGuestStore,
    InMemoryIdempotencyStore,
)
from lifecycle.adapters.memory_runs import InMemoryRunStore
from lifecycle.config import Settings, Tuning
from lifecycle.domain.model import DisabledReason, GuestState
from lifecycle.wiring import build_services
from tests.builders import invited_id
from tests.support import SetClock

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SAM = "51111111-0000-0000-0000-000000000001"
EXCLUDED = "e1111111-0000-0000-0000-000000000001"
ATTEST = {"ATTESTATION_DAYS": "90", "EXPIRY_NOTICE_DAYS": "14", "EXPIRY_GRACE_DAYS": "30"}


@pytest.fixture
def world():
    clock = SetClock(START)
    store, directory, audit = InMemoryGuestStore(), InMemoryDirectory(), InMemoryAuditLog()
    directory.users[SAM] = {"id": SAM, "mail": "sam@contoso.com", "userType": "Member", "externalUserState": None,
                            "accountEnabled": True, "displayName": "Sam"}  # the sponsor, a member of the tenant
    publisher = InMemoryEventPublisher()

    def services(**env: str):
        settings = Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:9", **env})
        return build_services(settings, store=store, directory=directory, audit=audit, clock=clock,
                              publisher=publisher, idempotency_store=InMemoryIdempotencyStore(),
                              runs=InMemoryRunStore(),
                              tuning=Tuning(lag_retry_seconds=0.1, lag_first_delay=0.05, action_stale_seconds=60))

    services.publisher = publisher
    return clock, store, directory, services


async def invite(svc, directory, email: str, sponsors: list[str]) -> str:
    """A guest that redeemed its invitation (the sweep's next pass records it)."""
    guest_id = await invited_id(svc, email, expiresInDays=1000, sponsors=sponsors)
    directory.users[guest_id]["externalUserState"] = "Accepted"
    return guest_id


def published(services, kind: str) -> list:
    return [e for e in services.publisher.published if e.type == kind]


async def test_unattested_guest_is_noticed_then_disabled_at_the_due_date_then_deleted(world):
    clock, store, directory, services = world
    svc = services(**ATTEST)
    guest_id = await invite(svc, directory, "a@fabrikam.com", [SAM])
    clock.now = START + 76 * DAY
    assert (await svc.expiry.run()).done == {"notify": 1}
    [notice] = published(services, "guest.attestation-due")
    assert notice.data["sponsors"] == [SAM] and notice.data["portal"] == "/api/portal"
    assert notice.data["dueAt"] == (START + 90 * DAY).isoformat()
    clock.now = START + 80 * DAY
    assert (await svc.expiry.run()).done == {}  # once per period
    clock.now = START + 90 * DAY - timedelta(seconds=1)
    assert (await svc.expiry.run()).done == {}
    clock.now = START + 90 * DAY
    assert (await svc.expiry.run()).done == {"disable": 1}
    record = store.guests[guest_id]
    assert record.state is GuestState.DISABLED and record.disabled_reason is DisabledReason.UNATTESTED
    assert directory.users[guest_id]["accountEnabled"] is False
    clock.now = START + 120 * DAY
    assert (await svc.expiry.run()).done == {"delete": 1}
    assert guest_id in directory.deleted


async def test_a_kept_guest_is_not_disabled_and_its_period_starts_again(world):
    clock, store, directory, services = world
    svc = services(**ATTEST)
    kept = await invite(svc, directory, "kept@fabrikam.com", [SAM])
    other = await invite(svc, directory, "other@fabrikam.com", [SAM])
    clock.now = START + 80 * DAY
    assert (await svc.expiry.run()).done == {"notify": 2}
    await svc.sponsorship.attest(kept, "keep", "sam", None)
    assert store.guests[kept].attested_at == START + 80 * DAY
    clock.now = START + 90 * DAY
    assert (await svc.expiry.run()).done == {"disable": 1}
    assert store.guests[kept].is_live and store.guests[other].disabled_reason is DisabledReason.UNATTESTED
    clock.now = START + 156 * DAY  # 14 days before the new period ends: the next notice (the other: deleted)
    assert (await svc.expiry.run()).done == {"notify": 1, "delete": 1}
    assert len(published(services, "guest.attestation-due")) == 3


async def test_an_unsponsored_guest_is_announced_then_disabled_after_the_grace(world):
    clock, store, directory, services = world
    svc = services(MIN_SPONSORS="1", EXPIRY_GRACE_DAYS="30", LIFECYCLE_FALLBACK_NOTIFY="it@contoso.com")
    lonely = await invite(svc, directory, "lonely@fabrikam.com", [])
    sponsored = await invite(svc, directory, "sponsored@fabrikam.com", [SAM])
    clock.now = START + DAY
    assert (await svc.expiry.run()).done == {"notify": 1}
    [announced] = published(services, "guest.unsponsored")
    assert announced.guest_id == lonely and announced.data["fallbackNotify"] == "it@contoso.com"
    assert announced.data["disableAfter"] == (START + 31 * DAY).isoformat()
    clock.now = START + 31 * DAY - timedelta(seconds=1)
    assert (await svc.expiry.run()).done == {}  # announced once
    clock.now = START + 31 * DAY
    assert (await svc.expiry.run()).done == {"disable": 1}
    assert store.guests[lonely].disabled_reason is DisabledReason.UNSPONSORED and store.guests[sponsored].is_live


async def test_sponsors_the_directory_pass_reads_are_recorded_and_end_the_announcement(world):
    clock, store, directory, services = world
    svc = services(MIN_SPONSORS="1")
    guest_id = await invite(svc, directory, "late@fabrikam.com", [])
    clock.now = START + DAY
    assert (await svc.expiry.run()).done == {"notify": 1} and store.guests[guest_id].unsponsored_at is not None
    directory.users[guest_id]["sponsors"] = [SAM]  # a sponsor added in Entra
    clock.now = START + 40 * DAY
    report = await svc.expiry.run()
    assert report.done == {} and report.refreshed.get("sponsors") == 1
    assert store.guests[guest_id].sponsors == (SAM,) and store.guests[guest_id].unsponsored_at is None


async def test_an_excluded_guest_is_never_disabled_by_the_new_rules(world):
    clock, store, directory, services = world
    svc = services(**ATTEST, MIN_SPONSORS="1", EXPIRY_EXCLUDED_GROUP_IDS=EXCLUDED)
    guest_id = await invite(svc, directory, "partner@fabrikam.com", [])
    directory.add_group(EXCLUDED)
    directory.groups[EXCLUDED].add(guest_id)
    for day in (1, 40, 90, 200):
        clock.now = START + day * DAY
        report = await svc.expiry.run()
        assert "disable" not in report.done and "delete" not in report.done
    assert store.guests[guest_id].is_live and directory.users[guest_id]["accountEnabled"] is not False
    assert {e["reason"] for e in report.excluded} == {"unattested"}


async def test_the_plan_shows_the_new_reasons(world):
    clock, store, directory, services = world
    svc = services(**ATTEST, MIN_SPONSORS="1")
    await invite(svc, directory, "a@fabrikam.com", [])
    clock.now = START + 90 * DAY
    plan, _ = await svc.expiry.plan()
    assert [(a.kind.value, a.reason.value) for a in plan.actions] == [("disable", "unattested")]


async def test_a_sponsor_disabled_in_the_directory_stops_counting_and_counts_again_when_enabled(world):
    # a sponsor's state is read in bulk from the directory: disabled (or deleted) sponsors count as absent
    clock, store, directory, services = world
    svc = services(MIN_SPONSORS="1", EXPIRY_GRACE_DAYS="30")
    guest_id = await invite(svc, directory, "orphan@fabrikam.com", [SAM])
    clock.now = START + DAY
    assert (await svc.expiry.run()).done == {}  # Sam stands
    directory.users[SAM]["accountEnabled"] = False
    clock.now = START + 2 * DAY
    assert (await svc.expiry.run()).done == {"notify": 1}
    assert [e.guest_id for e in published(services, "guest.unsponsored")] == [guest_id]
    directory.users[SAM]["accountEnabled"] = True
    clock.now = START + 3 * DAY
    report = await svc.expiry.run()
    assert report.done == {} and store.guests[guest_id].unsponsored_at is None  # the announcement ends
    directory.users[SAM]["accountEnabled"] = False
    clock.now = START + 40 * DAY  # absent again: a new announcement, and a new grace period from it
    assert (await svc.expiry.run()).done == {"notify": 1} and store.guests[guest_id].is_live
    clock.now = START + 70 * DAY
    assert (await svc.expiry.run()).done == {"disable": 1}
    assert store.guests[guest_id].disabled_reason is DisabledReason.UNSPONSORED

"""Invite through the real msgraph-sdk over HTTP to the Graph emulator, with state in Azurite."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from tests.api_client import api, call
from tests.support import GROUP_A, GROUP_B, GROUP_UNMANAGED

pytestmark = pytest.mark.azurite


async def test_new_guest_with_groups(live, emulator):
    status, body, _ = await api.send_invite({"email": "ann@fabrikam.com", "groups": [GROUP_A, GROUP_B],
                                    "attributes": {"companyName": "Fabrikam"}, "displayName": "Ann"})
    assert status == 201, body
    user = emulator.user(body["id"])
    assert user["userType"] == "Guest" and user["mail"] == "ann@fabrikam.com"
    assert sorted(user["memberOf"]) == sorted([GROUP_A, GROUP_B]) and user["companyName"] == "Fabrikam"
    stored = await live.records.store.get(body["id"])
    assert stored.groups and not stored.pending_groups and stored.attributes == {"companyName": "Fabrikam"}
    audit = await live.audit.entries_for(body["id"])
    assert audit and audit[-1].outcome == "succeeded" and audit[-1].graph_request_ids


async def test_a_new_guests_group_adds_and_attribute_write_are_one_graph_request(live, emulator):
    status, body, _ = await api.send_invite({"email": "una@fabrikam.com", "groups": [GROUP_A, GROUP_B],
                                    "attributes": {"department": "Sales"}})
    assert status == 201 and sorted(emulator.user(body["id"])["memberOf"]) == sorted([GROUP_A, GROUP_B])
    assert emulator.count("POST /$batch") == 1  # the adds and the PATCH are its items, counted on their routes
    assert (emulator.count("POST /groups/{id}/members/$ref"), emulator.count("PATCH /users/{id}")) == (2, 1)
    stored = await live.records.store.get(body["id"])
    assert stored.attributes == {"department": "Sales"} and not stored.pending_attributes


async def test_same_email_again_is_one_invitation(live, emulator):
    first = await api.send_invite({"email": "bob@fabrikam.com"})
    second = await api.send_invite({"email": "Bob@Fabrikam.com", "groups": [GROUP_A]})
    assert (first[0], second[0]) == (201, 200) and first[1]["id"] == second[1]["id"]
    assert emulator.count("POST /invitations") == 1
    assert emulator.group_members(GROUP_A) == [first[1]["id"]]


async def test_email_with_a_quote(live, emulator):
    status, body, _ = await api.send_invite({"email": "o'brien@fabrikam.com"})
    assert status == 201
    again = await api.send_invite({"email": "o'brien@fabrikam.com"})
    assert again[0] == 200 and again[1]["id"] == body["id"] and emulator.count("POST /invitations") == 1


async def test_member_email_is_refused(live, emulator):
    emulator.seed_user(displayName="Dana", mail="dana@contoso.com", userType="Member")
    status, body, _ = await api.send_invite({"email": "dana@contoso.com"})
    assert status == 403 and body["error"]["code"] == "NotAGuest"
    assert emulator.writes() == 0 and await live.records.store.get_claim("dana@contoso.com") is None


async def test_unmanaged_group_means_no_graph_call(live, emulator):
    status, body, _ = await api.send_invite({"email": "erin@fabrikam.com", "groups": [GROUP_UNMANAGED]})
    assert status == 403 and emulator.calls()["total"] == 0


async def test_replication_lag_then_success(live, emulator):
    emulator.configure(replicationLag=3)
    status, body, _ = await api.send_invite({"email": "lag@fabrikam.com", "groups": [GROUP_A]})
    assert status == 201 and body["groups"] == [GROUP_A] and body["pendingGroups"] == []
    assert emulator.group_members(GROUP_A) == [body["id"]]


async def test_lag_longer_than_the_retry_window_is_202_pending(live, emulator):
    emulator.configure(replicationLag=10_000)
    status, body, headers = await api.send_invite({"email": "slow@fabrikam.com", "groups": [GROUP_A, GROUP_B]})
    assert status == 202 and sorted(body["pendingGroups"]) == sorted([GROUP_A, GROUP_B])
    assert headers["Location"].endswith(f"/api/guests/{body['id']}") and int(headers["Retry-After"]) > 0
    stored = await live.records.store.get(body["id"])
    assert sorted(stored.pending_groups) == sorted([GROUP_A, GROUP_B]) and stored.last_error


async def test_twenty_concurrent_invites_make_one_guest(live, emulator):
    results = await asyncio.gather(*(api.send_invite({"email": "rush@fabrikam.com", "groups": [GROUP_A]})
                                     for _ in range(20)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201}, statuses
    assert len({body["id"] for _, body, _ in results}) == 1
    assert emulator.count("POST /invitations") == 1 and len(emulator.users(mail="rush@fabrikam.com")) == 1
    page = await live.records.store.query(__import__("lifecycle.ports", fromlist=["GuestQuery"]).GuestQuery())
    assert [g.email for g in page.guests] == ["rush@fabrikam.com"]


async def test_random_throttling_and_unavailability(live, emulator):
    emulator.configure(faultRate=0.2, faultStatuses=[429, 503], faultRetryAfter=1, seed=7)
    emails = [f"storm{n}@fabrikam.com" for n in range(8)]
    results = await asyncio.gather(*(api.send_invite({"email": e, "groups": [GROUP_A]}) for e in emails))
    assert all(status in (200, 201) for status, _, _ in results), [(s, b) for s, b, _ in results]
    assert emulator.calls()["faults"] > 0
    for email in emails:
        assert len(emulator.users(mail=email)) == 1
    assert sorted(emulator.group_members(GROUP_A)) == sorted(body["id"] for _, body, _ in results)


async def test_malformed_requests_never_500(live, emulator):
    for raw in (b"{", b'{"email": ["x"]}', b'{"email": "a@b.co", "groups": "g"}', b"x" * 100_000, b"null"):
        status, body, _ = await call("invite_guest", "POST", "guests", raw=raw)
        assert status == 400 and body["error"]["code"], raw[:20]
    assert emulator.calls()["total"] == 0


async def test_throttled_past_the_budget_is_503_then_the_retry_succeeds_once(live, live_settings, emulator):
    emulator.configure(throttle={"enabled": True, "capacity": 1, "windowSeconds": 600})
    status, body, headers = await api.send_invite({"email": "busy@fabrikam.com", "groups": [GROUP_A]})
    assert status == 503 and body["error"]["code"] == "GraphUnavailable" and int(headers["Retry-After"]) > 30
    assert emulator.users(mail="busy@fabrikam.com") == [] and emulator.group_members(GROUP_A) == []
    emulator.configure(throttle={"enabled": False})
    async with worker(live_settings):  # this worker stays paused for the Retry-After; a fresh one may call
        status, body, _ = await api.send_invite({"email": "busy@fabrikam.com", "groups": [GROUP_A]})
    assert status == 201 and len(emulator.users(mail="busy@fabrikam.com")) == 1
    assert emulator.group_members(GROUP_A) == [body["id"]]


async def test_a_long_retry_after_pauses_every_caller_of_the_worker(live, emulator):
    emulator.configure(throttle={"enabled": True, "capacity": 1, "windowSeconds": 600})
    first = await api.send_invite({"email": "first@fabrikam.com"})
    emulator.configure(throttle={"enabled": False})
    emulator.clear_calls()
    others = await asyncio.gather(*(api.send_invite({"email": f"other{n}@fabrikam.com"}) for n in range(5)))
    assert first[0] == 503 and int(first[2]["Retry-After"]) > 30
    assert [status for status, _, _ in others] == [503] * 5
    assert all(int(headers["Retry-After"]) > 30 for _, _, headers in others)
    assert emulator.calls()["total"] == 0  # nothing reached Graph while the worker was paused
    directory = live.directory
    assert directory._slots.limit < live.settings.graph_max_concurrency


@asynccontextmanager
async def worker(settings):
    """A fresh worker (its own services, Graph client and throttle state), installed for the calls inside."""
    from lifecycle.wiring import build_services, container
    from tests.conftest import FAST

    services = build_services(settings, tuning=FAST)
    container.use(lambda: services)
    try:
        yield services
    finally:
        await services.close()

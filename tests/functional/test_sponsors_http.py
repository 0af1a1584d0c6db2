"""Sponsors (Entra mode, a signed-in user without an app role): they see and decide only for the guests whose
record names them among their sponsors, confirmed in Graph before a write; keep is an audited decision that with
ATTESTATION_DAYS moves the expiry (never earlier), remove disables the guest now (reason `sponsor`), and the sweep
deletes it after the grace period."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.config import Settings, Tuning
from lifecycle.wiring import build_services, container
from tests import principals
from tests.api_client import call
from tests.support import GROUP_A, GROUP_B

CLIENT = "0f2c7f5e-6a3b-4c8d-9e1f-2a3b4c5d6e7f"
FLOW = "5a5a5a5a-6a3b-4c8d-9e1f-2a3b4c5d6e7f"


@pytest.fixture
def tenant(fakes, monkeypatch):
    """Two sponsors, Sam (guests one and two) and Kim (guest three), invited with a function key; then Entra mode."""
    monkeypatch.delenv("LIFECYCLE_HTTP_AUTH", raising=False)
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    sam = fakes.directory.add_user("sam@contoso.com", "Member", None)
    kim = fakes.directory.add_user("kim@contoso.com", "Member", None)
    ids = {}

    async def invite(email: str, sponsor: str) -> None:
        status, body, _ = await call("invite_guest", "POST", "guests",
                                     {"email": email, "sponsors": [sponsor], "groups": [GROUP_A]})
        assert status == 201, body
        ids[email.split("@")[0]] = body["id"]

    yield {"sam": sam, "kim": kim, "ids": ids, "invite": invite}


async def _entra(monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HTTP_AUTH", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    for name in ("LIFECYCLE_HTTP_ROLES", "LIFECYCLE_HTTP_ALLOWED_CLIENTS", "LIFECYCLE_HTTP_ALLOWED_PRINCIPALS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sponsored(tenant, monkeypatch):
    await tenant["invite"]("one@fabrikam.com", tenant["sam"])
    await tenant["invite"]("two@fabrikam.com", tenant["sam"])
    await tenant["invite"]("three@fabrikam.com", tenant["kim"])
    await _entra(monkeypatch)
    tenant["as_sam"] = principals.user(tenant["sam"], "sam@contoso.com")
    tenant["as_kim"] = principals.user(tenant["kim"], "kim@contoso.com")
    return tenant


async def test_a_sponsor_lists_only_the_guests_it_sponsors(fakes, sponsored):
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=sponsored["as_sam"])
    assert status == 200
    assert sorted(g["email"] for g in body["value"]) == ["one@fabrikam.com", "two@fabrikam.com"]
    assert body["caller"] == {"id": sponsored["sam"], "name": f"principal:sam@contoso.com/{sponsored['sam']}",
                              "roles": [], "user": True, "scope": "sponsored"} and body["continuationToken"] is None
    status, body, _ = await call("list_guests", "GET", "guests", headers=sponsored["as_sam"])
    assert status == 403 and body["error"]["details"][0]["requiredRole"] == "Guests.Read"


async def test_a_reader_lists_every_guest_and_a_function_key_too(fakes, sponsored, monkeypatch):
    reader = principals.user("9d9d9d9d-0000-4000-8000-000000000001", "rita@contoso.com", "Guests.Read")
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=reader)
    assert status == 200 and len(body["value"]) == 3 and body["caller"]["scope"] == "all"
    assert body["caller"]["roles"] == ["Guests.Read"]
    monkeypatch.delenv("LIFECYCLE_HTTP_AUTH")
    status, body, _ = await call("my_guests", "GET", "me/guests")
    assert status == 200 and len(body["value"]) == 3
    assert body["caller"]["roles"] == ["Guests.Read", "Guests.Manage", "Guests.Admin"]


async def test_a_sponsors_pages_follow_their_token_to_every_guest(fakes, sponsored):
    pages, token = [], None
    while True:
        params = {"pageSize": "1", **({"continuationToken": token} if token else {})}
        status, body, _ = await call("my_guests", "GET", "me/guests", params=params, headers=sponsored["as_sam"])
        assert status == 200 and len(body["value"]) <= 1
        pages.append([g["email"] for g in body["value"]])
        token = body["continuationToken"]
        if not token:
            break
    assert sorted(email for page in pages for email in page) == ["one@fabrikam.com", "two@fabrikam.com"]
    status, body, _ = await call("my_guests", "GET", "me/guests", params={"continuationToken": "forged"},
                                 headers=sponsored["as_sam"])
    assert status == 400


async def test_a_sponsor_reads_its_guest_and_not_the_others_nor_an_unknown_one(fakes, sponsored):
    ids = sponsored["ids"]
    status, body, _ = await call("get_guest", "GET", f"guests/{ids['one']}", route={"id": ids["one"]},
                                 headers=sponsored["as_sam"])
    assert status in (200, 202) and body["email"] == "one@fabrikam.com"
    for guest_id in (ids["three"], "11111111-2222-4333-8444-555555555555"):
        status, body, _ = await call("get_guest", "GET", f"guests/{guest_id}", route={"id": guest_id},
                                     headers=sponsored["as_sam"])
        assert status == 403 and body["error"]["code"] == "NotGuestSponsor"


async def test_keep_is_an_audited_decision_that_moves_nothing_without_attestation_days(fakes, sponsored):
    guest_id = sponsored["ids"]["one"]
    before = fakes.store.guests[guest_id]
    writes = len(fakes.directory.writes)
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "keep"},
                                 route={"id": guest_id}, headers=sponsored["as_sam"])
    assert status == 200 and body["expiresAt"] is not None and body["state"] == before.state.value
    assert fakes.store.guests[guest_id].expires_at == before.expires_at
    assert len(fakes.directory.writes) == writes
    entry = next(e for e in reversed(fakes.audit.entries) if e.action == "guest.attest")
    assert entry.actor == f"principal:sam@contoso.com/{sponsored['sam']}" and entry.target == guest_id
    assert entry.details["decision"] == "keep" and entry.details["sponsor"] == sponsored["sam"]
    assert entry.outcome == "unchanged"


async def test_remove_disables_the_guest_now_and_the_sweep_deletes_it_after_the_grace(fakes, sponsored, monkeypatch):
    guest_id = sponsored["ids"]["two"]
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "remove"},
                                 route={"id": guest_id}, headers=sponsored["as_sam"])
    assert status == 200 and body["state"] == "disabled" and body["disabledReason"] == "sponsor"
    assert fakes.directory.users[guest_id]["accountEnabled"] is False
    actions = [(e.action, e.outcome, e.actor) for e in fakes.audit.entries if e.target == guest_id][-2:]
    assert {action for action, _, _ in actions} == {"guest.attest", "guest.disable"}
    assert all(actor.startswith("principal:sam@contoso.com/") for _, _, actor in actions)
    disabled = [e for e in fakes.publisher.published if e.type == "guest.disabled" and e.guest_id == guest_id]
    assert len(disabled) == 1
    fakes.clock.offset = timedelta(days=fakes.settings.expiry_grace_days + 1)
    monkeypatch.delenv("LIFECYCLE_HTTP_AUTH")
    status, plan, _ = await call("expiry_plan", "GET", "expiry/plan")
    assert status == 200
    assert any(a["guestId"] == guest_id and a["action"] == "delete" for a in plan["actions"]), plan["actions"]


async def test_another_user_is_refused_for_the_same_guest_and_nothing_is_written(fakes, sponsored):
    guest_id = sponsored["ids"]["one"]
    writes = len(fakes.directory.writes)
    for decision in ("keep", "remove"):
        status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": decision},
                                     route={"id": guest_id}, headers=sponsored["as_kim"])
        assert status == 403 and body["error"]["code"] == "NotGuestSponsor"
    assert len(fakes.directory.writes) == writes and fakes.store.guests[guest_id].state.value == "invited"
    refused = [e for e in fakes.audit.entries if e.action == "guest.attest" and e.target == guest_id]
    assert [e.outcome for e in refused] == ["failed: NotGuestSponsor"] * 2


async def test_a_sponsor_graph_no_longer_lists_is_refused_before_any_write(fakes, sponsored):
    guest_id = sponsored["ids"]["one"]
    fakes.directory.users[guest_id]["sponsors"] = [sponsored["kim"]]  # changed in Entra since the record was made
    writes = len(fakes.directory.writes)
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "remove"},
                                 route={"id": guest_id}, headers=sponsored["as_sam"])
    assert status == 403 and body["error"]["code"] == "NotGuestSponsor" and "Entra" in body["error"]["message"]
    assert len(fakes.directory.writes) == writes


async def test_a_reader_decides_only_for_its_own_guests_and_a_manager_for_any(fakes, sponsored):
    guest_id = sponsored["ids"]["three"]
    reader = principals.user("9d9d9d9d-0000-4000-8000-000000000001", "rita@contoso.com", "Guests.Read")
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "keep"},
                                 route={"id": guest_id}, headers=reader)
    assert status == 403 and body["error"]["code"] == "NotGuestSponsor"
    flow = principals.application(CLIENT, FLOW, "Guests.Manage")
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "remove"},
                                 route={"id": guest_id}, headers=flow)
    assert status == 200 and body["disabledReason"] == "sponsor"
    entry = next(e for e in reversed(fakes.audit.entries) if e.action == "guest.attest")
    assert entry.details["sponsor"] is None and entry.outcome == "succeeded"


async def test_an_application_without_a_role_is_no_sponsor(fakes, sponsored):
    guest_id = sponsored["ids"]["one"]
    app = principals.application(CLIENT, sponsored["sam"])  # even with a sponsor's object id
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "keep"},
                                 route={"id": guest_id}, headers=app)
    assert status == 403 and body["error"]["code"] == "CallerNotAllowed"
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=app)
    assert status == 403


async def test_a_disabled_guest_cannot_be_kept_and_a_bad_decision_is_400(fakes, sponsored):
    guest_id = sponsored["ids"]["one"]
    await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "remove"},
               route={"id": guest_id}, headers=sponsored["as_sam"])
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "keep"},
                                 route={"id": guest_id}, headers=sponsored["as_sam"])
    assert status == 409 and body["error"]["code"] == "NotKeepable"
    status, body, _ = await call("attest_guest", "POST", f"guests/{guest_id}/attest", {"decision": "maybe"},
                                 route={"id": guest_id}, headers=sponsored["as_sam"])
    assert status == 400


@pytest.fixture
def attesting(fakes):
    """The same fakes, with ATTESTATION_DAYS=90."""
    settings = Settings.from_env({"MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}", "GRAPH_BASE_URL": "http://127.0.0.1:9",
                                  "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
                                  "ATTESTATION_DAYS": "90"})
    services = build_services(settings, store=fakes.store, directory=fakes.directory, audit=fakes.audit,
                              publisher=fakes.publisher, idempotency_store=fakes.keys, clock=fakes.clock,
                              tuning=Tuning(lag_retry_seconds=0.3, lag_first_delay=0.05, claim_wait_seconds=0.5))
    container.use(lambda: services)
    return services


async def test_with_attestation_days_keep_moves_the_expiry_to_at_least_that_and_never_earlier(
        fakes, tenant, attesting, monkeypatch):
    await tenant["invite"]("soon@fabrikam.com", tenant["sam"])
    status, late, _ = await call("invite_guest", "POST", "guests",
                                 {"email": "late@fabrikam.com", "sponsors": [tenant["sam"]], "expiresInDays": 300})
    assert status == 201
    await _entra(monkeypatch)
    as_sam = principals.user(tenant["sam"], "sam@contoso.com")
    soon = tenant["ids"]["soon"]
    before = datetime.now(UTC)
    status, body, _ = await call("attest_guest", "POST", f"guests/{soon}/attest", {"decision": "keep"},
                                 route={"id": soon}, headers=as_sam)
    assert status == 200
    moved = datetime.fromisoformat(body["expiresAt"])
    assert before + timedelta(days=90) <= moved <= datetime.now(UTC) + timedelta(days=90)
    assert any(e.type == "guest.extended" and e.guest_id == soon for e in fakes.publisher.published)
    status, body, _ = await call("attest_guest", "POST", f"guests/{late['id']}/attest", {"decision": "keep"},
                                 route={"id": late["id"]}, headers=as_sam)
    assert status == 200 and body["expiresAt"] == late["expiresAt"]


async def test_my_guests_show_when_each_attestation_is_due_and_a_keep_moves_it(fakes, tenant, attesting, monkeypatch):
    await tenant["invite"]("due@fabrikam.com", tenant["sam"])
    await _entra(monkeypatch)
    as_sam = principals.user(tenant["sam"], "sam@contoso.com")
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=as_sam)
    [guest] = body["value"]
    first_due = datetime.fromisoformat(guest["attestationDueAt"])
    invited = datetime.fromisoformat(guest["invitedAt"])
    assert status == 200 and first_due == invited + timedelta(days=90) and guest["attestedAt"] is None
    fakes.clock.offset = timedelta(days=10)
    status, kept, _ = await call("attest_guest", "POST", f"guests/{guest['id']}/attest", {"decision": "keep"},
                                 route={"id": guest["id"]}, headers=as_sam)
    assert status == 200 and kept["attestedAt"] is not None
    [after] = (await call("my_guests", "GET", "me/guests", headers=as_sam))[1]["value"]
    assert datetime.fromisoformat(after["attestationDueAt"]) == datetime.fromisoformat(kept["attestedAt"]) + \
        timedelta(days=90) > first_due


async def test_my_guests_show_each_guests_last_sign_in_as_graph_has_it(fakes, sponsored):
    from lifecycle.domain.planning import SignIn
    one = sponsored["ids"]["one"]
    fakes.directory.users[one]["signInActivity"] = SignIn(last_successful=datetime(2026, 11, 30, 8, tzinfo=UTC))
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=sponsored["as_sam"])
    last = {g["id"]: g["lastSignInAt"] for g in body["value"]}
    assert status == 200 and last == {one: "2026-11-30T08:00:00+00:00", sponsored["ids"]["two"]: None}
    fakes.directory.premium = False  # no Entra ID P1: the page still lists the guests, without sign-ins
    status, body, _ = await call("my_guests", "GET", "me/guests", headers=sponsored["as_sam"])
    assert status == 200 and [g["lastSignInAt"] for g in body["value"]] == [None, None]

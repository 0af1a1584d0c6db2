"""Switches: replication lag, random faults, the resource-unit throttle, latency, and config validation."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest


def error_of(response) -> tuple[str, str]:
    body = response.json()["error"]
    return body["code"], body["message"]


def test_replication_lag_hides_a_new_guest_for_n_references(graph, control, invite):
    control.configure(replicationLag=2)
    user_id = invite("ann@fabrikam.com").json()["invitedUser"]["id"]

    found = graph.get("/users", params={"$filter": "mail eq 'ann@fabrikam.com'", "$select": "id"}).json()
    first = graph.get(f"/users/{user_id}")
    second = graph.patch(f"/users/{user_id}", json={"department": "Ops"})
    third = graph.get(f"/users/{user_id}")

    assert [user["id"] for user in found["value"]] == [user_id]
    assert first.status_code == 404 and error_of(first)[0] == "Request_ResourceNotFound"
    assert second.status_code == 400 and error_of(second)[0] == "Directory_ObjectNotFound"
    assert third.status_code == 200
    assert control.user(user_id)["lagRemaining"] == 0
    assert control.user(user_id)["department"] is None


def test_a_reference_write_right_after_the_invitation_answers_the_documented_400(graph, control, invite, group):
    """group-post-members.md, Response: 400 Bad Request while an object "hasn't fully replicated (error message: 'The
    source resource object or one of the objects being referenced don't exist.' — retry after a brief delay)"; the
    same for PATCH members@odata.bind. The emulator's default `lagReferenceError`."""
    control.configure(replicationLag=2)
    user_id = invite("ann@fabrikam.com").json()["invitedUser"]["id"]
    reference = f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"

    lagging = graph.post(f"/groups/{group['id']}/members/$ref", json={"@odata.id": reference})
    bound = graph.patch(f"/groups/{group['id']}", json={"members@odata.bind": [reference]})
    visible = graph.post(f"/groups/{group['id']}/members/$ref", json={"@odata.id": reference})

    for response in (lagging, bound):
        assert response.status_code == 400
        assert error_of(response) == ("Request_BadRequest",
                                      "The source resource object or one of the objects being referenced don't exist.")
    assert visible.status_code == 204
    assert control.group_members(group["id"]) == [user_id]
    assert control.config()["lagReferenceError"] == "missingObjects"


def test_lag_reference_error_can_be_the_reported_bad_reference(graph, control, invite, group):
    control.configure(replicationLag=1, lagReferenceError="badReference")
    user_id = invite("ann@fabrikam.com").json()["invitedUser"]["id"]

    response = graph.post(f"/groups/{group['id']}/members/$ref",
                          json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"})

    assert response.status_code == 400
    assert error_of(response) == ("Request_BadRequest", "Not a valid reference update.")


def test_lag_reference_error_can_be_not_found(graph, control, invite, group):
    control.configure(replicationLag=1, lagReferenceError="notFound")
    user_id = invite("ann@fabrikam.com").json()["invitedUser"]["id"]

    response = graph.post(f"/groups/{group['id']}/members/$ref",
                          json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"})

    assert response.status_code == 404


def test_fault_before_answers_with_retry_after_and_does_no_work(graph, control):
    user = control.seed_user(mail="ann@fabrikam.com", userType="Guest")
    control.configure(faultRate=1.0, faultStatuses=[503], faultRetryAfter=2)

    response = graph.patch(f"/users/{user['id']}", json={"department": "Ops"})
    health = control.health()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert error_of(response)[0] == "ServiceUnavailable"
    assert health["status"] == "ok"
    assert control.user(user["id"])["department"] is None
    assert control.calls()["faults"] == 1


def test_fault_after_applies_the_write_then_fails(graph, control):
    user = control.seed_user(mail="ann@fabrikam.com", userType="Guest")
    control.configure(faultRate=1.0, faultStatuses=[504], faultPhase="after")

    response = graph.patch(f"/users/{user['id']}", json={"department": "Ops"})

    assert response.status_code == 504
    assert "Retry-After" in response.headers
    assert control.user(user["id"])["department"] == "Ops"


def test_seeded_faults_are_reproducible(graph, control):
    def statuses() -> list[int]:
        control.configure(faultRate=0.5, seed=42)
        return [graph.get("/users", params={"$top": "1"}).status_code for _ in range(12)]

    first, second = statuses(), statuses()

    assert first == second
    assert {200} < set(first) <= {200, 429, 503, 504}


def test_throttle_answers_429_once_capacity_is_spent_and_recovers(graph, control):
    control.configure(throttle={"enabled": True, "capacity": 4, "windowSeconds": 1})

    answers = [graph.get("/users") for _ in range(3)]  # 2 RU each

    assert [r.status_code for r in answers[:2]] == [200, 200]
    throttled = answers[2]
    assert throttled.status_code == 429
    assert error_of(throttled) == ("TooManyRequests", "Please retry again later.")  # throttling.md sample response
    retry_after = float(throttled.headers["Retry-After"])  # fractional, e.g. "0.500" (throttling.md: "2.128")
    assert 0 < retry_after <= 1
    assert throttled.headers["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    time.sleep(retry_after)
    assert graph.get("/users").status_code == 200
    calls = control.calls()
    assert calls["throttled"] == 1
    assert calls["resourceUnits"] == 8


def test_throttle_costs_follow_graph(graph, control, group):
    control.configure(throttle={"enabled": True, "capacity": 3, "windowSeconds": 1000})

    cheap = [graph.get("/users", params={"$select": "id", "$top": "5"}) for _ in range(3)]  # 1 RU each
    members = graph.get(f"/groups/{group['id']}/members")  # 3 RU

    assert [r.status_code for r in cheap] == [200, 200, 200]
    assert members.status_code == 429
    assert control.calls()["resourceUnits"] == 6


@pytest.mark.asyncio
async def test_latency_delays_requests_without_blocking_the_server(emu, control):
    control.configure(latencyMs=300)
    headers = {"Authorization": "Bearer t"}
    async with httpx.AsyncClient(base_url=emu.graph_url, headers=headers) as client:
        started = time.monotonic()
        answers = await asyncio.gather(*(client.get("/users") for _ in range(4)))
        elapsed = time.monotonic() - started

    assert [r.status_code for r in answers] == [200] * 4
    assert 0.3 <= elapsed < 1.0


def test_config_patch_validates_and_merges(emu, control):
    bad_rate = httpx.patch(f"{emu.url}/_emulator/config", json={"faultRate": 2})
    unknown = httpx.patch(f"{emu.url}/_emulator/config", json={"chaos": True})
    merged = control.configure(throttle={"capacity": 50})

    assert bad_rate.status_code == 400 and unknown.status_code == 400
    assert merged["throttle"] == {"enabled": True, "capacity": 50, "windowSeconds": 10}  # on by default
    assert merged["faultStatuses"] == [429, 503, 504]
    assert merged["tenantDomains"] == ["contoso.onmicrosoft.com", "contoso.com"]

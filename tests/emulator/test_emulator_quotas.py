"""Graph's quotas, on by default at Graph's sizes, and the resource units each request costs
(concepts/throttling-limits.md, "Identity and access service limits" and "Invitation manager service limits";
concepts/throttling.md, "Sample response")."""

from __future__ import annotations

import re
import time

import httpx
import pytest

TENANT_ID = "9a3c2f4e-6b1d-4c8e-a5f7-0e2d4b6c8a10"
JSON = {"Content-Type": "application/json"}


def batch(graph: httpx.Client, items: list[dict]) -> list[dict]:
    response = graph.post("/$batch", json={"requests": items})
    assert response.status_code == 200, response.text
    return response.json()["responses"]


def test_the_quotas_are_on_by_default_at_graphs_sizes(control):
    """throttling-limits.md: application+tenant pair, resource units S: 3,500 per 10 seconds, write quota 3,000 per
    2 minutes and 30 seconds; invitation manager: 150 requests per 5 seconds per tenant."""
    config = control.config()

    assert config["throttle"] == {"enabled": True, "capacity": 3500, "windowSeconds": 10}
    assert config["writeThrottle"] == {"enabled": True, "capacity": 3000, "windowSeconds": 150}
    assert config["invitationThrottle"] == {"enabled": True, "capacity": 150, "windowSeconds": 5}


def test_the_default_resource_unit_quota_throttles_after_3500_units(graph, control):
    """Unchanged switches: GET transitiveMembers costs 5, twenty per batch; the first 429 comes once 3,500 units
    (plus what refilled meanwhile at 350 per second) are spent."""
    group = control.seed_group(displayName="Big")
    read = [{"id": str(n), "method": "GET", "url": f"/groups/{group['id']}/transitiveMembers"} for n in range(20)]
    started, charged, first_429 = time.monotonic(), 0, None
    while first_429 is None and charged < 20_000:
        for answer in batch(graph, read):
            if answer["status"] == 429 and first_429 is None:
                first_429 = answer
            elif first_429 is None:
                charged += int(answer["headers"]["x-ms-resource-unit"])
    elapsed = time.monotonic() - started

    assert first_429 is not None
    assert 3500 <= charged + 5 <= 3500 + 350 * elapsed + 5
    assert first_429["headers"]["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"


def test_the_write_quota_answers_its_own_429_and_reads_still_pass(graph, control, emu):
    """throttling-limits.md: the write quota is separate from the resource units ("writes are throttled but reads
    are still permitted": throttling.md); the 429 says WriteLimitExceeded in x-ms-throttle-information (not the
    error code, which stays TooManyRequests) and its scope is Tenant_Application/Write/<ApplicationId>/<TenantId>."""
    user_id = control.seed_user(mail="ann@fabrikam.com", userType="Guest")["id"]
    control.configure(writeThrottle={"capacity": 3})

    writes = [graph.patch(f"/users/{user_id}", json={"department": str(n)}) for n in range(4)]
    read = graph.get(f"/users/{user_id}")

    assert [r.status_code for r in writes] == [204, 204, 204, 429]
    throttled = writes[3]
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert throttled.headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert throttled.headers["x-ms-throttle-scope"] == f"Tenant_Application/Write/{emu.identity.client_id}/{TENANT_ID}"
    assert re.fullmatch(r"\d+\.\d{3}", throttled.headers["Retry-After"])
    # one write refills in 150 s / 3 = 50 s; the refused write was charged too ("Microsoft Graph continues to log
    # resource usage while a client is being throttled"), so the next one waits for two
    assert 99 < float(throttled.headers["Retry-After"]) <= 100
    assert read.status_code == 200
    assert control.user(user_id)["department"] == "2"


def test_the_default_write_quota_throttles_after_3000_writes(graph, control):
    """Unchanged switches: 3,000 writes per 150 s (20 refill per second) per application and tenant."""
    user_id = control.seed_user(mail="ann@fabrikam.com", userType="Guest")["id"]
    items = [{"id": str(n), "method": "PATCH", "url": f"/users/{user_id}", "headers": JSON,
              "body": {"department": str(n)}} for n in range(20)]
    started, written, first_429 = time.monotonic(), 0, None
    while first_429 is None and written < 10_000:
        for answer in batch(graph, items):
            if answer["status"] == 429 and first_429 is None:
                first_429 = answer
            elif first_429 is None:
                written += 1
    elapsed = time.monotonic() - started

    assert first_429 is not None and first_429["headers"]["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert 3000 <= written <= 3000 + 20 * elapsed + 1


def test_invitations_are_limited_per_tenant_in_whole_seconds(graph, control, invite):
    """throttling-limits.md, "Invitation manager service limits": any request on /invitations, per tenant for all
    apps. The invitation manager is not the identity and access service: its 429 carries Retry-After (whole seconds)
    and none of the x-ms-throttle-* headers (the stricter reading of a silent page)."""
    control.configure(invitationThrottle={"capacity": 2})

    answers = [invite(f"guest{n}@fabrikam.com") for n in range(3)]
    listing = graph.get("/users", params={"$select": "id"})

    assert [r.status_code for r in answers] == [201, 201, 429]
    assert answers[2].json()["error"]["code"] == "TooManyRequests"
    assert answers[2].headers["Retry-After"].isdigit() and int(answers[2].headers["Retry-After"]) >= 1
    assert not [name for name in answers[2].headers if name.lower().startswith("x-ms-throttle")]
    assert listing.status_code == 200 and len(listing.json()["value"]) == 2


def test_the_default_invitation_limit_is_150_per_5_seconds(graph, control):
    items = [{"id": str(n), "method": "POST", "url": "/invitations", "headers": JSON,
              "body": {"invitedUserEmailAddress": f"g{n}-{{k}}@fabrikam.com", "inviteRedirectUrl": "https://x.example"}}
             for n in range(20)]
    started, sent, first_429 = time.monotonic(), 0, None
    for round_number in range(20):
        round_items = [{**item, "body": {**item["body"], "invitedUserEmailAddress":
                                         item["body"]["invitedUserEmailAddress"].replace("{k}", str(round_number))}}
                       for item in items]
        for answer in batch(graph, round_items):
            if answer["status"] == 429 and first_429 is None:
                first_429 = answer
            elif first_429 is None:
                sent += 1
        if first_429 is not None:
            break
    elapsed = time.monotonic() - started

    assert first_429 is not None
    assert 150 <= sent <= 150 + 30 * elapsed + 1


@pytest.mark.parametrize("path, params, units", [
    ("/users", {}, 2),
    ("/users", {"$select": "id"}, 1),
    ("/users", {"$top": "5"}, 1),
    ("/users", {"$expand": "sponsors"}, 3),
    ("/users", {"$expand": "sponsors($select=id)", "$select": "id"}, 2),
    ("/groups/{group}/members", {}, 3),
    ("/groups/{group}/transitiveMembers", {}, 5),
    ("/groups/{group}/transitiveMembers", {"$select": "id", "$top": "5"}, 3),
    ("/users/{user}/memberOf", {}, 2),
    ("/users/{user}", {"$select": "id"}, 1),
])
def test_resource_units_follow_graphs_table(graph, control, path, params, units):
    """throttling-limits.md: GET users 2, groups/{id}/members 3, groups/{id}/transitiveMembers 5, me/memberOf 2 (and
    so users/{id}/memberOf), any other GET 1; $select −1, $expand +1, $top below 20 −1; never below 1."""
    group = control.seed_group(displayName="G")
    user = control.seed_user(mail="ann@fabrikam.com", userType="Guest", memberOf=[group["id"]])
    url = path.format(group=group["id"], user=user["id"])

    response = graph.get(url, params=params)

    assert response.status_code == 200, response.text
    assert response.headers["x-ms-resource-unit"] == str(units)


def test_writes_cost_one_unit_and_one_write(graph, control):
    user_id = control.seed_user(mail="ann@fabrikam.com", userType="Guest")["id"]
    control.configure(writeThrottle={"capacity": 1})

    patched = graph.patch(f"/users/{user_id}", json={"department": "Ops"})
    revoked = graph.post(f"/users/{user_id}/revokeSignInSessions")

    assert patched.headers["x-ms-resource-unit"] == "1" and patched.status_code == 204
    assert revoked.status_code == 429 and revoked.headers["x-ms-throttle-information"] == "WriteLimitExceeded"


def test_the_command_line_turns_quotas_off_and_sets_collaboration_restrictions():
    from graph_emulator import create_app
    from graph_emulator.__main__ import parse_args, switches_from

    defaults = create_app(**switches_from(parse_args([]))).state.emulator.switches.to_json()
    changed = create_app(**switches_from(parse_args([
        "--no-throttle", "--no-write-throttle", "--no-invitation-throttle", "--throttle-capacity", "50",
        "--blocked-invitation-domains", "Rival.example, spam.example"]))).state.emulator.switches.to_json()
    allowed = create_app(**switches_from(parse_args(["--allowed-invitation-domains", "fabrikam.com"])))

    assert (defaults["throttle"]["enabled"], defaults["writeThrottle"]["enabled"],
            defaults["invitationThrottle"]["enabled"]) == (True, True, True)
    assert (changed["throttle"], changed["writeThrottle"]["enabled"], changed["invitationThrottle"]["enabled"]) == (
        {"enabled": False, "capacity": 50, "windowSeconds": 10}, False, False)
    assert changed["blockedInvitationDomains"] == ["rival.example", "spam.example"]
    assert allowed.state.emulator.switches.allowed_invitation_domains == ["fabrikam.com"]

"""signInActivity: only with $select, absent for a user who never signed in, pages of at most 500 (a larger $top is
served, not refused), never combined in $filter, and the switches for tenants without Entra ID P1 and apps without
AuditLog.Read.All (Graph v1.0 api/user-list.md, resources/signinactivity.md, resources/user.md;
microsoftgraph/microsoft-graph-docs-contrib#3033, microsoftgraph/microsoft-graph-explorer-v4#2731)."""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from graph_emulator.__main__ import parse_args, switches_from

GUESTS = "userType eq 'Guest'"
FIELDS = {"lastSignInDateTime", "lastSignInRequestId", "lastNonInteractiveSignInDateTime",
          "lastNonInteractiveSignInRequestId", "lastSuccessfulSignInDateTime", "lastSuccessfulSignInRequestId"}
ACTIVE = {"lastSignInDateTime": "2026-10-01T08:00:00Z", "lastNonInteractiveSignInDateTime": "2026-11-20T08:00:00Z",
          "lastSuccessfulSignInDateTime": "2026-11-20T08:00:00Z"}


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


@pytest.fixture
def tenant(control) -> dict[str, str]:
    """An active guest, a guest who never signed in, and a member."""
    active, never = control.seed_users(users=[{"mail": "active@fabrikam.com", "signInActivity": ACTIVE},
                                              {"mail": "never@fabrikam.com"}], userType="Guest")
    member = control.seed_user(mail="m@contoso.com", signInActivity={"lastSignInDateTime": "2026-11-01T00:00:00Z"})
    return {"active": active, "never": never, "member": member["id"]}


def test_sign_in_activity_comes_only_when_selected(graph, tenant):
    plain = graph.get("/users", params={"$filter": GUESTS}).json()["value"]
    other = graph.get("/users", params={"$filter": GUESTS, "$select": "id,createdDateTime"}).json()["value"]
    selected = graph.get("/users", params={"$filter": GUESTS, "$select": "id,signInActivity"}).json()["value"]

    assert all("signInActivity" not in user for user in plain + other)
    active, never = selected
    assert set(active["signInActivity"]) == FIELDS
    assert {name: active["signInActivity"][name] for name in ACTIVE} == ACTIVE
    assert len(active["signInActivity"]["lastSuccessfulSignInRequestId"]) == 36
    assert never == {"id": tenant["never"]}  # never signed in: no signInActivity key at all, not nulls


def test_a_user_who_never_signed_in_has_no_sign_in_activity_anywhere(graph, control, tenant):
    """resources/user.md: the property is not returned at all for a user who never signed in (or last before April
    2020, where resources/signinactivity.md says Entra's record begins); a user with only a non-interactive sign-in did
    sign in."""
    non_interactive = control.seed_user(mail="robot@fabrikam.com", userType="Guest",
                                        signInActivity={"lastNonInteractiveSignInDateTime": "2026-11-01T00:00:00Z"})
    group = control.seed_group(members=[tenant["never"], non_interactive["id"]])

    single = graph.get(f"/users/{tenant['never']}", params={"$select": "id,signInActivity"}).json()
    members = graph.get(f"/groups/{group['id']}/members", params={"$select": "id,signInActivity"}).json()["value"]

    assert "signInActivity" not in single and single["id"] == tenant["never"]
    assert "signInActivity" not in members[0]
    assert members[1]["signInActivity"]["lastNonInteractiveSignInDateTime"] == "2026-11-01T00:00:00Z"


def test_a_single_user_with_sign_in_activity(graph, tenant):
    user = graph.get(f"/users/{tenant['active']}", params={"$select": "signInActivity"}).json()

    assert user["signInActivity"]["lastNonInteractiveSignInDateTime"] == "2026-11-20T08:00:00Z"
    assert "id" not in user


def test_a_top_above_500_with_sign_in_activity_is_served_in_pages_of_500(graph, control):
    """user-list.md: "When you specify $select=signInActivity or $filter=signInActivity when listing users, the
    maximum page size for $top is 500. Requests with $top set higher than 500 return pages with up to 500 users."
    (Not refused: the emulator used to answer 400.)"""
    guests = control.seed_users(count=1100, userType="Guest")

    pages = [graph.get("/users", params={"$filter": GUESTS, "$select": "id,signInActivity", "$top": "999"}).json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append(graph.get(pages[-1]["@odata.nextLink"]).json())
    filtered = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime eq null",
                                           "$select": "id", "$top": "999"}).json()
    without = graph.get("/users", params={"$filter": GUESTS, "$select": "id", "$top": "999"})

    assert [len(page["value"]) for page in pages] == [500, 500, 100]
    assert [item["id"] for page in pages for item in page["value"]] == guests
    assert len(filtered["value"]) == 500 and "@odata.nextLink" in filtered  # filtering on it caps the page too
    assert len(without.json()["value"]) == 999


def test_sign_in_activity_filters_alone_and_never_with_another_property(graph, tenant):
    def ids(clause: str) -> list[str]:
        response = graph.get("/users", params={"$filter": clause, "$select": "id"})
        assert response.status_code == 200, response.text
        return [user["id"] for user in response.json()["value"]]

    combined = graph.get("/users", params={"$filter": f"{GUESTS} and signInActivity/lastSignInDateTime le "
                                                      "2026-12-01T00:00:00Z"})
    greater = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime gt 2026-01-01T00:00:00Z"})
    unknown = graph.get("/users", params={"$filter": "signInActivity/lastLogin le 2026-01-01T00:00:00Z"})
    string = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime le '2026-01-01'"})

    assert ids("signInActivity/lastSignInDateTime le 2026-10-15T00:00:00Z") == [tenant["active"]]
    assert ids("signInActivity/lastSignInDateTime ge 2026-10-15T00:00:00Z") == [tenant["member"]]
    assert ids("signInActivity/lastSuccessfulSignInDateTime eq null") == [tenant["never"], tenant["member"]]
    assert ids("signInActivity/lastSignInDateTime le 2026-10-15T00:00:00Z or "
               "signInActivity/lastNonInteractiveSignInDateTime ge 2026-11-01T00:00:00+00:00") == [tenant["active"]]
    assert error_of(combined)[:2] == (400, "Request_UnsupportedQuery")
    assert error_of(greater)[:2] == (400, "Request_UnsupportedQuery")
    assert error_of(unknown)[:2] == (400, "BadRequest")
    assert error_of(string)[:2] == (400, "BadRequest")


def test_a_tenant_without_premium_answers_403_to_any_sign_in_activity_read(graph, control, tenant):
    control.configure(signInActivity="unlicensed")

    listed = graph.get("/users", params={"$filter": GUESTS, "$select": "id,signInActivity", "$top": "500"})
    single = graph.get(f"/users/{tenant['active']}", params={"$select": "signInActivity"})
    filtered = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime le 2026-01-01T00:00:00Z"})
    without = graph.get("/users", params={"$filter": GUESTS, "$select": "id,createdDateTime"})

    for response in (listed, single, filtered):
        assert error_of(response) == (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                      "Neither tenant is B2C or tenant doesn't have premium license")
    assert without.status_code == 200 and len(without.json()["value"]) == 2


def test_an_app_without_audit_log_permission_answers_403_to_any_sign_in_activity_read(graph, control, tenant):
    """user-list.md: signInActivity needs "the AuditLog.Read.All permission"; without it Graph answers 403
    Authentication_MSGraphPermissionMissing (microsoftgraph/microsoft-graph-explorer-v4#2731)."""
    control.configure(signInActivity="noPermission")

    listed = graph.get("/users", params={"$filter": GUESTS, "$select": "id,signInActivity"})
    single = graph.get(f"/users/{tenant['active']}", params={"$select": "signInActivity"})
    filtered = graph.get("/users", params={"$filter": "signInActivity/lastSignInDateTime le 2026-01-01T00:00:00Z"})
    without = graph.get("/users", params={"$filter": GUESTS, "$select": "id"})

    for response in (listed, single, filtered):
        assert error_of(response) == (403, "Authentication_MSGraphPermissionMissing",
                                      "Calling principal does not have required MSGraph permissions AuditLog.Read.All")
    assert without.status_code == 200


def test_a_tenant_reporting_empty_data_returns_every_value_null(graph, control, tenant):
    control.configure(signInActivity="empty")

    listed = graph.get("/users", params={"$filter": GUESTS, "$select": "id,signInActivity"}).json()["value"]

    assert [user["signInActivity"] for user in listed] == [dict.fromkeys(FIELDS)] * 2
    assert control.user(tenant["active"])["signInActivity"]["lastSuccessfulSignInDateTime"] == ACTIVE[
        "lastSuccessfulSignInDateTime"]


def test_sign_in_activity_can_be_changed_behind_the_app_and_is_validated(emu, control, tenant):
    changed = control.update_user(tenant["never"], signInActivity={"lastSignInDateTime": "2026-11-30T10:00:00Z"})
    bad_date = httpx.post(f"{emu.url}/_emulator/users/bulk",
                          json={"users": [{"signInActivity": {"lastSignInDateTime": "yesterday"}}]})
    bad_field = httpx.post(f"{emu.url}/_emulator/users", json={"signInActivity": {"lastLogin": None}})
    bad_switch = httpx.patch(f"{emu.url}/_emulator/config", json={"signInActivity": "maybe"})

    assert changed["signInActivity"]["lastSignInDateTime"] == "2026-11-30T10:00:00Z"
    assert changed["signInActivity"]["lastSuccessfulSignInDateTime"] is None
    assert [response.status_code for response in (bad_date, bad_field, bad_switch)] == [400, 400, 400]


def test_the_reports_throttle_counts_only_sign_in_activity_reads(graph, control, tenant):
    config = control.configure(signInThrottle={"enabled": True, "capacity": 2})
    sign_ins = [graph.get("/users", params={"$select": "id,signInActivity"}) for _ in range(3)]
    others = [graph.get("/users", params={"$select": "id"}) for _ in range(3)]

    assert config["signInThrottle"] == {"enabled": True, "capacity": 2, "windowSeconds": 10}
    assert [response.status_code for response in sign_ins] == [200, 200, 429]
    assert int(sign_ins[2].headers["Retry-After"]) >= 1  # the reports limit answers whole seconds
    assert [response.status_code for response in others] == [200, 200, 200]
    assert control.calls()["throttled"] == 1


def test_sign_in_activity_is_read_only_through_graph(graph, tenant):
    response = graph.patch(f"/users/{tenant['active']}", json={"signInActivity": {"lastSignInDateTime": None}})

    assert error_of(response)[:2] == (400, "Request_BadRequest")


@pytest.mark.asyncio
async def test_the_sdk_reads_sign_in_activity_and_maps_the_licence_refusal(emu, control, tenant, sdk):
    query = RequestConfiguration(query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=GUESTS, select=["id", "signInActivity"], top=500))

    page = await sdk.users.get(query)
    control.configure(signInActivity="unlicensed")
    with pytest.raises(ODataError) as refused:
        await sdk.users.get(query)

    activity = {user.id: user.sign_in_activity for user in page.value}
    assert activity[tenant["active"]].last_successful_sign_in_date_time.isoformat() == "2026-11-20T08:00:00+00:00"
    assert activity[tenant["never"]] is None  # no signInActivity at all for a user who never signed in
    assert refused.value.response_status_code == 403
    assert refused.value.error.code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


def test_the_command_line_sets_the_sign_in_switches():
    switches = switches_from(parse_args(["--sign-in-activity", "unlicensed", "--sign-in-throttle"]))
    no_permission = switches_from(parse_args(["--sign-in-activity", "noPermission"]))
    defaults = switches_from(parse_args([]))

    assert (switches["signInActivity"], switches["signInThrottle"]) == ("unlicensed", {"enabled": True})
    assert no_permission["signInActivity"] == "noPermission"
    assert (defaults["signInActivity"], defaults["signInThrottle"]) == ("available", {"enabled": False})
